"""The Redactor: every rule of the package applied in one fixed order, to text, to a stream's labels and
to decoded JSON."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

from error_autopilot.redaction.assignments import (
    named_secret,
    redact_assignments,
    redact_cli_options,
    redact_name_value_pairs,
)
from error_autopilot.redaction.cards import redact_cards
from error_autopilot.redaction.catalogue import (
    AWS_PAIR,
    BUILTIN_PATTERNS,
    CLI_FLAG,
    EMAIL,
    GO_DSN,
    HEX_KEYS,
    URL_CODE,
    VAULT_LEGACY,
)
from error_autopilot.redaction.pattern import TAG, Rule, secret_pattern
from error_autopilot.redaction.secret_names import is_secret_value, key_class
from error_autopilot.redaction.vendors import redact_vendor_tokens

_LABEL_CACHE = 4096


class Redactor:
    """Replaces secrets with `[REDACTED:<kind>]`; built-in patterns plus user ones (service map `redaction`)."""

    def __init__(self, extra_patterns: Iterable[str] = ()) -> None:
        custom = tuple(secret_pattern(f"custom-{i + 1}", p) for i, p in enumerate(extra_patterns))
        self._labels: dict[tuple[tuple[str, str], ...], dict[str, str]] = {}
        patterns = (*BUILTIN_PATTERNS, *custom)
        tail = (HEX_KEYS, VAULT_LEGACY, AWS_PAIR, GO_DSN, URL_CODE, CLI_FLAG)
        self._rules: tuple[tuple[str, Rule], ...] = (
            *((p.name, p.apply) for p in patterns),
            ("vendor-token", redact_vendor_tokens),
            *((p.name, p.apply) for p in tail),
            ("cli-flag", redact_cli_options),
            ("assignment", redact_assignments),
            ("assignment", redact_name_value_pairs),
            (EMAIL.name, EMAIL.apply),
            ("card-number", redact_cards),
        )
        # the same rules for `redact`, a pattern's hints beside it: the text is lowered once for all the
        # patterns that look for theirs case-insensitively, not once each (some 30 a text, on every line
        # parsed in full)
        self._steps: tuple[tuple[tuple[str, ...], bool, Rule], ...] = (
            *((p.hints, p.fold, p.substitute) for p in patterns),
            ((), False, redact_vendor_tokens),
            *((p.hints, p.fold, p.substitute) for p in tail),
            ((), False, redact_cli_options),
            ((), False, redact_assignments),
            ((), False, redact_name_value_pairs),
            (EMAIL.hints, EMAIL.fold, EMAIL.substitute),
            ((), False, redact_cards),
        )

    def redact(self, text: str) -> str:
        """Text with every recognised secret replaced."""
        lower: str | None = None
        for hints, fold, rule in self._steps:
            if hints:
                if fold:
                    if lower is None:
                        lower = text.lower()
                    haystack = lower
                else:
                    haystack = text
                if not any(map(haystack.__contains__, hints)):  # map: the loop runs in C
                    continue
            changed = rule(text)
            if changed is not text:  # a rule that replaced something: its text is lowered again if asked
                text, lower = changed, None
        return text

    @property
    def rules(self) -> tuple[tuple[str, Rule], ...]:
        """Every rule, name and function, in the order `redact` applies them."""
        return self._rules

    def findings(self, text: str) -> list[str]:
        """Names of the rules that match (for tests and reports, never the values)."""
        return [name for name, rule in self.rules if rule(text) != text]

    def redact_labels(self, labels: dict[str, str]) -> dict[str, str]:
        """Label values redacted; a stream's labels repeat on every line, so the answers are remembered."""
        key = tuple(labels.items())
        cached = self._labels.get(key)
        if cached is None:
            if len(self._labels) >= _LABEL_CACHE:
                self._labels.clear()
            cached = self._labels[key] = self.redact_tree(labels)
        return dict(cached)

    def redact_tree(self, value: Any) -> Any:
        """A decoded JSON value with every string redacted, and every value of a secret-named key."""
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, list):
            return [self.redact_tree(v) for v in value]
        if isinstance(value, dict):
            out: dict[Any, Any] = {}
            held = named_secret(value)
            for key, item in value.items():
                kind = key_class(key) if isinstance(key, str) else None
                if key == held or (
                    kind is not None and isinstance(item, str | int) and is_secret_value(str(item), kind)
                ):
                    out[key] = TAG.format("assignment")
                else:
                    out[key] = self.redact_tree(item)
            return out
        return value


@functools.lru_cache(maxsize=8)
def redactor_for(extra_patterns: tuple[str, ...] = ()) -> Redactor:
    """One compiled Redactor per set of user patterns (parsing asks for it once per line)."""
    return Redactor(extra_patterns)
