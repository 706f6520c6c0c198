"""Explainable fingerprints: which parts of an event identify its bug, and why.

Parts, in order:
- `service`: always counts — the same exception in two services is two bugs to fix.
- `exception_type`: the thrown exception's type; `root_cause` adds the innermost cause's type
  when the trace is a chain.
- `frame`: the top `TOP_FRAMES` in-app frames as `module.function` — never line numbers (they move
  with every unrelated edit) and with generated suffixes (`$lambda$12`, `.func1`, `<Run>d__5`)
  normalised. Library frames are listed but do not count; with no in-app frame at all, the top
  frames of the trace count instead.
- `message`: only without frames, the parameterised message (`order <int> failed`).

The value is the first 16 hex digits of SHA-256 over the contributing parts — stable across
processes and machines. Changing any rule here regroups every incident: bump `ALGORITHM_VERSION`.
"""

from __future__ import annotations

import functools
import hashlib
import re

from error_autopilot.domain.events import ErrorEvent
from error_autopilot.domain.incidents import Fingerprint, FingerprintPart
from error_autopilot.domain.stack import Frame, StackTrace
from error_autopilot.incidents.parameterize import parameterize

ALGORITHM_VERSION = 1
TOP_FRAMES = 3
_SHOWN_LIBRARY_FRAMES = 3
_ONLY_TOP = f"only the top {TOP_FRAMES} in-app frames count"

# Names compilers and runtimes generate, whose numbers change between builds.
_GENERATED: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\$\$Lambda(?:\$\d+)?(?:/0x[0-9a-fA-F]+)?(?:/\d+)?"), "$$Lambda"),  # Java lambda classes
    (re.compile(r"\$\$(EnhancerBySpringCGLIB|FastClassBySpringCGLIB|SpringCGLIB)\$\$\w+"), r"$$\1"),
    (re.compile(r"\$lambda-\d+"), "$lambda"),  # Kotlin (old)
    (re.compile(r"\$\d+"), "$"),  # anonymous classes, lambda$foo$0, $lambda$12, coroutine $2
    (re.compile(r"\.(?:func|gowrap|deferwrap)\d+(?:\.\d+)*"), ".func"),  # Go closures
    (re.compile(r"(<[\w$]*>)([a-z])__\w+"), r"\1\2"),  # .NET <Run>d__5, <Main>b__0_0, <>c__DisplayClass0_0
    (re.compile(r"lambda_method\d+"), "lambda_method"),  # .NET expression trees
    (re.compile(r"0x[0-9a-fA-F]+"), "0x"),
)


@functools.lru_cache(maxsize=16384)  # a burst repeats the same few frames thousands of times
def normalise_symbol(symbol: str) -> str:
    """A module or function name with generated, build-specific suffixes removed."""
    for pattern, replacement in _GENERATED:
        symbol = pattern.sub(replacement, symbol)
    return symbol


def frame_symbol(frame: Frame) -> str:
    """`module.function`, normalised; the line number deliberately left out."""
    function = normalise_symbol(frame.function)
    return f"{normalise_symbol(frame.module)}.{function}" if frame.module else function


def _distinct(frames: list[Frame]) -> list[Frame]:
    """Frames with consecutive repeats (recursion) collapsed, so recursion depth does not regroup."""
    out: list[Frame] = []
    for frame in frames:
        if not out or frame_symbol(out[-1]) != frame_symbol(frame):
            out.append(frame)
    return out


def _part(frame: Frame, contributes: bool, hint: str) -> FingerprintPart:
    return FingerprintPart(name="frame", value=frame_symbol(frame), contributes=contributes, hint=hint)


def _frame_parts(stack: StackTrace) -> list[FingerprintPart]:
    in_app = _distinct(list(stack.in_app_frames()))
    parts: list[FingerprintPart] = []
    if in_app:
        parts.extend(_part(f, True, "in-app frame; line number ignored") for f in in_app[:TOP_FRAMES])
        if len(in_app) > TOP_FRAMES:
            more = f"+{len(in_app) - TOP_FRAMES} more in-app frames"
            parts.append(FingerprintPart(name="frame", value=more, contributes=False, hint=_ONLY_TOP))
        library = [f for f in stack.primary.frames if not f.in_app][:_SHOWN_LIBRARY_FRAMES]
        parts.extend(_part(f, False, "library frame") for f in library)
        return parts
    every = _distinct([f for exc in stack.exceptions for f in exc.frames])
    return [_part(f, True, "no in-app frames: using all frames; line number ignored") for f in every[:TOP_FRAMES]]


def _type_parts(event: ErrorEvent) -> list[FingerprintPart]:
    stack = event.stack
    primary = stack.primary.type if stack else event.exception_type
    parts = []
    if primary:
        parts.append(FingerprintPart(name="exception_type", value=primary, contributes=True, hint="thrown exception"))
    else:
        parts.append(FingerprintPart(name="exception_type", value="", contributes=False, hint="no exception type"))
    if stack and len(stack.exceptions) > 1:
        parts.append(FingerprintPart(name="root_cause", value=stack.root_cause.type, contributes=True,
                                     hint="innermost cause"))  # fmt: skip
    return parts


def fingerprint_parts(event: ErrorEvent) -> list[FingerprintPart]:
    """Every part considered, contributing or not, in a fixed order."""
    parts = [FingerprintPart(name="service", value=event.service, contributes=True, hint="service")]
    parts.extend(_type_parts(event))
    frames = _frame_parts(event.stack) if event.stack else []
    parts.extend(frames)
    if not any(p.contributes for p in frames):
        hint = "no stack frames: parameterised message" if event.stack else "no stack trace: parameterised message"
        parts.append(FingerprintPart(name="message", value=parameterize(event.message), contributes=True, hint=hint))
    return parts


def fingerprint_value(parts: list[FingerprintPart]) -> str:
    """First 16 hex digits of SHA-256 over the contributing parts."""
    digest = hashlib.sha256()
    for part in parts:
        if part.contributes:
            digest.update(f"{part.name}\x1f{part.value}\x1e".encode("utf-8", "surrogatepass"))
    return digest.hexdigest()[:16]


def fingerprint_event(event: ErrorEvent) -> Fingerprint:
    """The event's fingerprint, with every part explained."""
    parts = fingerprint_parts(event)
    return Fingerprint(value=fingerprint_value(parts), algorithm=ALGORITHM_VERSION, parts=tuple(parts))
