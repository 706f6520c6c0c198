"""Which own frames of a ranking come first: the innermost own frame, unless the runtime says it is not where
the failure happened (a Go recover handler, a method run on a nil pointer, an inlined Go frame, a getter the
Kotlin compiler generated), or the trace or the project's layout says it was handed what it failed on; then
the caller it was handed it by, with a reason on both.

Split from `stackmap` (the scoring of every frame): these rules decide only the order of the first two,
and each is measured on the real-world corpus (`tests/fixtures/realworld/README.md`, the ablations).
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from error_autopilot.domain.stack import Frame, StackTrace
from error_autopilot.incidents.stackparse.go import NIL_RECEIVER

if TYPE_CHECKING:  # the candidates `stackmap` builds; it imports this module, not the other way round
    from error_autopilot.investigation.stackmap import Candidate


def lead(
    stack: StackTrace, by_key: dict[tuple[str, str], Candidate], anchor: tuple[str, str],
    own_keys: dict[int, tuple[str, str]],
) -> list[Candidate]:  # fmt: skip
    """The candidates that come first, whatever their scores: when the innermost own frame is a Go method
    called on a nil pointer, the own frame that called it, then the method; when it is the getter Kotlin
    generates for a lateinit property read too early, the frame that read it (`_lateinit_getters_caller`);
    when it is a Go recover
    handler, the frame that panicked, then the handler; otherwise the innermost own frame, then its caller
    when the compiler inlined it, or the own frame a weaker signal points at (`_runner_up`)."""
    first = by_key[anchor]
    if (caller := _nil_receivers_caller(stack, first, own_keys)) is not None and by_key[caller] is not first:
        by_key[caller].reasons.insert(0, _NIL_CALLER)
        first.reasons.append("a method called on a nil pointer (its receiver printed `0x0`): the caller comes first")
        return [by_key[caller], first]
    if (caller := _lateinit_getters_caller(stack, first, own_keys)) is not None and by_key[caller] is not first:
        by_key[caller].reasons.insert(0, _LATEINIT_CALLER)
        if caller[0] != first.path:  # the fix may initialise the property in its own class as well: no evidence
            first.reasons.append("the getter Kotlin generates for a lateinit property: its caller is the runner-up")
            return [first, by_key[caller]]
        first.reasons.append("the getter Kotlin generates for a lateinit property: its caller in the file comes first")
        return [by_key[caller], first]
    if (panicked := _panicked_below(stack, first, own_keys)) is not None:
        key, there = panicked
        if (caller := _inlined_leaf_caller(stack, by_key[key], own_keys)) is not None:
            key, there = caller, f"{there}, or its caller: the Go compiler inlined that frame"
        if by_key[key] is not first:
            by_key[key].reasons.insert(0, there)
            first.reasons.append("a deferred handler that recovered a panic (it runs above the runtime's `panic`)")
            return [by_key[key], first]
    caller = _inlined_leaf_caller(stack, first, own_keys)
    if caller is not None and by_key[caller] is not first:  # a weak signal: 2 wins, 3 losses (corpus README)
        by_key[caller].reasons.insert(0, "caller of the innermost own frame, which the Go compiler inlined")
        first.reasons.append("inlined by the Go compiler (`(...)`, no pc offset): its caller comes second")
        return [first, by_key[caller]]
    runner = _runner_up(stack, by_key, first, own_keys)
    if runner is None or by_key[runner[0]] is first:
        return [first]
    key, why_first, why_runner = runner
    first.reasons.append(why_first)
    by_key[key].reasons.insert(0, why_runner)
    return [first, by_key[key]]


# .NET's `ArgumentException` family and Java's `IllegalArgumentException` are documented as "thrown when a
# method is passed an invalid argument"; `requireNonNull`/`checkNotNull`/`ThrowIfNull` as parameter checks
_REJECTED_ARGUMENT = re.compile(r"(?:^|\.)(?:Argument\w*Exception|IllegalArgumentException)$")
_THROW_HELPER = re.compile(
    r"^(?:[Tt]hrow\w*|requireNonNull|checkNotNull|checkArgument|checkElementIndex|<init>|\.ctor)$"
)
_NULL_CHECK = re.compile(r"^(?:requireNonNull|checkNotNull|ThrowIfNull\w*)$")
# file names that say "a generic helper": the value it failed on often came from its caller (a weak signal,
# never enough for the first place: `RepositoryHelper.cs` held its fix in the corpus)
_HELPER_FILE = re.compile(r"(?:^|/)(?:utils?|helpers?)\.\w+$|(?<=[a-z0-9])(?:Extensions|Proxy|Utils?|Helpers?)\.\w+$")


def _runner_up(
    stack: StackTrace, by_key: dict[tuple[str, str], Candidate], first: Candidate, own_keys: dict[int, tuple[str, str]]
) -> tuple[tuple[str, str], str, str] | None:
    """The own frame that comes second when the trace suggests the innermost own frame was handed what it
    failed on, with a reason for each of the two; None when nothing does.

    Each signal is too weak (or too rare on the corpus) to take the first place from the innermost own
    frame (the ablation in `tests/fixtures/realworld/README.md`), but it says which frame to read next:
    the own frame that called a method which rejected its argument or is a generic helper by its file's
    name."""
    for exc in stack.exceptions:
        frames = list(exc.frames)
        at = next((i for i, f in enumerate(frames) if f is first.frame), None)
        if at is None:
            continue
        # the caller in another file: one in the same file is read with it
        caller = next((own_keys[id(f)] for f in frames[at + 1 :] if id(f) in own_keys), None)
        if caller is None or caller[0] == first.path:
            return None
        why = _handed_over(exc.type, exc.message, frames[:at], first)
        if why is None:
            return None
        return caller, f"{why[0]}: its caller is the runner-up", why[1]
    return None


def _panicked_below(
    stack: StackTrace, first: Candidate, own_keys: dict[int, tuple[str, str]]
) -> tuple[tuple[str, str], str] | None:
    """The key of the first own frame below the Go runtime's `panic` frame when `first` sits above it, with
    the reason: a deferred function runs on top of the stack that panicked (Go spec, "Handling panics"), so a
    recover handler that printed `debug.Stack()` (which prints the goroutine that calls it) shows itself,
    then `panic(…)` from runtime/panic.go, then the frames that panicked. Two repositories of the corpus
    (sni/lmd, OffchainLabs/prysm) had their fix there and none in the handler."""
    if stack.language != "go" or (found := _frames_around(stack, first)) is None:
        return None
    frames, at = found
    panic_at = next((i for i in range(at + 1, len(frames)) if _runtime_panic(frames[i])), None)
    if panic_at is None:
        return None
    below = next((own_keys[id(f)] for f in frames[panic_at + 1 :] if id(f) in own_keys), None)
    return None if below is None else (below, _PANICKED)


_NIL_CALLER = "called a method on a nil pointer: the first own frame above the frames whose receiver is `0x0`"
_NIL_DEREFERENCE = "nil pointer dereference"


def _nil_receivers_caller(
    stack: StackTrace, first: Candidate, own_keys: dict[int, tuple[str, str]]
) -> tuple[str, str] | None:
    """The key of the own frame that called a method on a nil pointer, when the innermost own frame is that
    method and the panic is the nil dereference: Go's traceback prints a method's receiver as its first
    argument (runtime/traceback.go), `(*Logger).Trace(0x0, …)`, and a method may be called on a nil pointer
    (Go spec, "Method values": the receiver is only dereferenced where the method does so). The method
    failed on the nil its caller held; the fix makes the caller hold a value (gogs/gogs, asciimoo/wuzz).
    Frames above that are themselves called on nil are passed over; a caller outside the service's code
    leaves the first place where it is."""
    if stack.language != "go" or (found := _frames_around(stack, first)) is None:
        return None
    frames, at = found
    exc = next(e for e in stack.exceptions if e.frames is frames)
    if _NIL_DEREFERENCE not in exc.message or not NIL_RECEIVER.search(first.frame.raw):
        return None
    above = next((f for f in frames[at + 1 :] if not NIL_RECEIVER.search(f.raw)), None)
    return None if above is None else own_keys.get(id(above))


_LATEINIT_CALLER = "read a lateinit property before it was set: the first own frame above its generated getter"
_LATEINIT = re.compile(r"^lateinit property (?P<name>[A-Za-z_]\w*) has not been initialized")


def _lateinit_getters_caller(
    stack: StackTrace, first: Candidate, own_keys: dict[int, tuple[str, str]]
) -> tuple[str, str] | None:
    """The key of the own frame that read a Kotlin `lateinit` property too early, when the innermost own frame is
    that property's getter. A lateinit property may have no custom accessor (Kotlin docs, "Late-initialized
    properties and variables"), so its getter (`get` + the capitalised name on the JVM) is the compiler's: it
    throws `UninitializedPropertyAccessException` ("lateinit property x has not been initialized") and holds no
    code of the project's; the fix initialises the property or checks `::x.isInitialized` where it is read. `lead`
    puts that reader first only in the getter's own file (the file stays, the function is one the source has);
    a reader in another file only comes second, since the fix may as well initialise the property in its class."""
    if stack.language != "jvm" or (found := _frames_around(stack, first)) is None:
        return None
    frames, at = found
    exc = next(e for e in stack.exceptions if e.frames is frames)
    prop = _LATEINIT.match(exc.message.strip())
    if not exc.type.endswith("UninitializedPropertyAccessException") or prop is None:
        return None
    if first.frame.function != "get" + prop["name"][:1].upper() + prop["name"][1:]:
        return None
    return next((own_keys[id(f)] for f in frames[at + 1 :] if id(f) in own_keys), None)


def _frames_around(stack: StackTrace, first: Candidate) -> tuple[tuple[Frame, ...], int] | None:
    """The frames of the exception that holds `first`'s frame, and its position among them."""
    for exc in stack.exceptions:
        at = next((i for i, f in enumerate(exc.frames) if f is first.frame), None)
        if at is not None:
            return exc.frames, at
    return None


_PANICKED = "where the panic happened: the first own frame below the runtime's `panic` frame"


def _runtime_panic(frame: Frame) -> bool:
    """The Go runtime's frame for a call of `panic` (`panic(…)` since Go 1.17, `runtime.gopanic` before)."""
    return frame.function in ("panic", "runtime.gopanic") or (frame.file or "").endswith("runtime/panic.go")


def _handed_over(exc_type: str, message: str, above: Sequence[Frame], first: Candidate) -> tuple[str, str] | None:
    """Why the innermost own frame may only have been handed what it failed on (for its note, then for its
    caller's), or None."""
    threw = all(_THROW_HELPER.match(f.function.rsplit(".", 1)[-1]) for f in above)  # nothing above but throw helpers
    checked = any(_NULL_CHECK.match(f.function.rsplit(".", 1)[-1]) for f in above)
    if threw and (_REJECTED_ARGUMENT.search(exc_type) or checked):
        short = (message.strip().splitlines() or [""])[0][:80]
        return ("it rejected an argument", f"called the innermost own frame with the argument it rejected "
                f"({exc_type.rsplit('.', 1)[-1]}{': ' + short if short else ''})")  # fmt: skip
    if _HELPER_FILE.search(first.path):
        helper = posixpath.basename(first.path)
        return (f"a generic helper by its file's name ({helper})",
                f"called the generic helper in {helper}: the value it failed on may come from here")  # fmt: skip
    return None


def _inlined_leaf_caller(
    stack: StackTrace, first: Candidate, own_keys: dict[int, tuple[str, str]]
) -> tuple[str, str] | None:
    """The key of the own frame that called `first`, when `first` is a Go frame the compiler inlined.

    Go's traceback prints an inlined frame as `pkg.F(...)` and its position without the `+0x` pc
    offset every other frame carries (runtime/traceback.go). The compiler inlines only functions under
    its small cost budget: accessors, lock wrappers, `Close`/`Stop` helpers. Failing there (a nil
    receiver, a closed channel, an index) means failing on what the caller handed over or on when it
    called, so the caller, when it is the service's own code right above, is a place to look.
    It moved two corpus cases to the fix and three away from it (miniflux, one case in each of held-out 10
    and 11), so it only chooses the runner-up (`lead`)."""
    if stack.language != "go" or "+0x" in first.frame.raw or (found := _frames_around(stack, first)) is None:
        return None
    frames, at = found
    if at + 1 >= len(frames) or not any("+0x" in f.raw for f in frames):  # a paste that dropped every offset
        return None
    return own_keys.get(id(frames[at + 1]))
