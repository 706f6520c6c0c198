"""Error class from exception types and messages across languages, with the rule that matched (pure)."""

from __future__ import annotations

import re

from error_autopilot.domain.findings import ErrorClass

# (error class, pattern over "Type: message", rule as shown to people, confidence)
_TABLE: tuple[tuple[ErrorClass, str, str, float], ...] = (
    ("null-dereference", r"NullPointerException|NullReferenceException|nil pointer dereference|"
         r"Cannot read propert(y|ies) of (undefined|null)|'NoneType' object has no attribute|"
         r"undefined is not an object|KotlinNullPointerException", "null/None dereference", 0.9),
        ("missing-key", r"^KeyError|NoSuchElementException|KeyNotFoundException|key not found|"
         r"missing key|IndexError|ArrayIndexOutOfBounds|index out of range", "missing key or index", 0.85),
        ("validation", r"ValidationError|IllegalArgumentException|ArgumentException|ValueError|"
         r"NumberFormatException|invalid input|FormatException", "invalid input", 0.75),
        ("type", r"TypeError|ClassCastException|InvalidCastException|AttributeError|interface conversion",
         "wrong type", 0.75),
        ("timeout-network", r"Timeout|timed out|ConnectException|Connection refused|ECONNREFUSED|ECONNRESET|"
         r"SocketException|UnknownHost|deadline exceeded|503|502|504", "timeout or network failure", 0.8),
        ("resource", r"OutOfMemory|MemoryError|Too many open files|disk full|No space left|"
         r"pool exhausted|RejectedExecution", "resource exhaustion", 0.8),
        ("config", r"ConfigurationException|missing (env|environment|config)|not configured|"
         r"NoSuchBean|ImproperlyConfigured|FileNotFoundError", "configuration", 0.7),
)  # fmt: skip
RULES: tuple[tuple[ErrorClass, re.Pattern[str], str, float], ...] = tuple(
    (cls, re.compile(p, re.I), rule, conf) for cls, p, rule, conf in _TABLE
)


def classify(exception_type: str | None, message: str | None) -> tuple[ErrorClass, str, float]:
    """(class, rule that matched, confidence); ("unknown", "no rule matched", 0.3) otherwise."""
    text = f"{exception_type or ''}: {message or ''}"
    for cls, pattern, rule, confidence in RULES:
        if match := pattern.search(text):
            return cls, f"{rule}: {match.group(0)!r}", confidence
    return "unknown", "no rule matched", 0.3
