"""The ranking of the repository files a stack trace names, as the place of the bug.

Every frame that maps to a file (`pathmap`) is a candidate, scored on explainable signals (own code
by configuration or by default, strength of the mapping, position in the chain), each keeping its
reasons; the innermost own frame comes first (see `rank`), the other signals order the rest. Pure.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from error_autopilot.domain.stack import Frame, Language, StackTrace
from error_autopilot.incidents.stackparse.common import InApp, Verdict
from error_autopilot.investigation import beyond
from error_autopilot.investigation.checkoutmap import by_content, followed, in_workspace, named_enough
from error_autopilot.investigation.contentsearch import Grep
from error_autopilot.investigation.framenames import bare_function, is_anonymous
from error_autopilot.investigation.pathmap import (
    TEST_PATH,
    VENDORED,
    Mapping,
    compiled_elsewhere,
    index_files,
    map_frame_explained,
    resolve_links,
)
from error_autopilot.investigation.runnerup import lead

_RUNTIME_MODULES = ("java.", "javax.", "jdk.", "sun.", "kotlin.", "kotlinx.coroutines.", "scala.", "System.",
                    "Microsoft.", "_COROUTINE.")  # fmt: skip

MAX_CANDIDATES = 10
# javac's bridge to a private member of a nested class before Java 11 (`Outer$Inner.access$000`; JEP 181 lets
# nestmates reach private members "without the need for compilers to insert accessibility-broadening bridge
# methods"; Kotlin's `access$getX$p` alike): compiler-made, no source of its own. The frame below made the access.
_SYNTHETIC_ACCESSOR = re.compile(r"^access\$\w+$")
_GO_VENDOR = re.compile(r"(?:^|/)vendor/")  # Go's vendor directory (cmd/go "Vendor Directories")


@dataclass
class Candidate:
    """A repository file named by a frame, scored as the place of the bug."""

    frame: Frame
    path: str
    function: str  # bare function name, e.g. `placeOrder`, `Get`, `invoice_total`
    score: float
    reasons: list[str] = field(default_factory=list)

    @property
    def reason(self) -> str:
        """The reasons on one line, strongest first."""
        return "; ".join(self.reasons)


@dataclass(frozen=True)
class Ranking:
    """Ranked candidates, best first, and a note on every frame (why in-app, why library, why this file)."""

    candidates: tuple[Candidate, ...]
    frame_notes: tuple[str, ...]
    frames: int
    dropped: dict[str, list[str]] = field(default_factory=dict)  # why frames were not candidates, by kind

    def no_location_reason(self) -> str:
        """Why no candidate exists, in one sentence: what the frames were and which rule set each aside."""
        if self.frames == 0:
            return "the stack trace has no frames (only the exception line was recognised)"
        parts = []
        if own := self.dropped.get("own"):
            parts.append(f"{len(own)} of the service's own frames name files not in the repository ("
                         + "; ".join(dict.fromkeys(own[:3])) + ")")  # fmt: skip
        if library := self.dropped.get("library"):
            rules = ", ".join(dict.fromkeys(library))
            parts.append(f"{len(library)} are library frames ({rules})")
        if runtime := self.dropped.get("runtime"):
            parts.append(f"{len(runtime)} are the language runtime ({', '.join(dict.fromkeys(runtime))})")
        detail = "; ".join(parts) or "no frame names a file"
        return f"none of the {self.frames} stack frames maps to a file of the repository: {detail}"


def _runtime(frame: Frame, verdict: Verdict, language: Language) -> bool:
    """Language runtime and standard library: never the service's bug, whatever the listing holds."""
    if verdict.in_app:
        return False
    module = frame.module or ""
    if language in ("jvm", "dotnet") and module.startswith(_RUNTIME_MODULES):
        return True
    return verdict.runtime


def _not_written(frame: Frame, verdict: Verdict, language: Language) -> tuple[str, str] | None:
    """Why a frame is no code the service wrote (the rule, then the frame's note), or None: the language
    runtime, or a compiler-made accessor."""
    if _runtime(frame, verdict, language):
        return verdict.reason, f"runtime ({verdict.reason})"
    if language == "jvm" and _SYNTHETIC_ACCESSOR.match(frame.function):
        return "a javac synthetic accessor", "a compiler-made accessor; the frame below it made the access"
    return None


def _exception_order(stack: StackTrace) -> list[int]:
    """Exceptions with frames, in the order their frames are weighed: the root cause first, then its wrappers."""
    return [i for i in range(len(stack.exceptions))[::-1] if stack.exceptions[i].frames]


def rank(
    stack: StackTrace, files: Sequence[str], *, packages: Sequence[str] = (), source_roots: Sequence[str] = (),
    grep: Grep | None = None, symlinks: dict[str, str] | None = None, printed: Sequence[str] = (),
) -> Ranking:  # fmt: skip
    """Candidate locations for the bug, best first, each with its reasons. `grep` searches the checkout's
    content for a class whose file the names did not find (or found ambiguously); `symlinks` (link →
    target as git stores it) lets a frame that ran a linked script land on the file the link names;
    `printed`: the log text the trace was read from, for what the parse keeps no trace of (the source line
    Python prints under a frame).

    The first is the innermost own frame (of the root cause first; configured own code before code
    that is merely not a known library), whatever the other signals say: they order the runners-up.
    A rule may put another candidate first only on strong evidence, meaning a behaviour the runtime or
    library documents, shown by the trace itself, that nets at least two wins on the tuning corpus from
    at least two repositories and rarely fires where it does not help (the ablation in
    `tests/fixtures/realworld/README.md`). Two do: a Go recover handler above the runtime's `panic` yields
    to the frame that panicked, and a Go method called on a nil pointer (receiver printed `0x0`) yields to
    the own frame that called it (an inlined Go frame's caller, 2 wins and 3 losses, only comes second). The
    getter Kotlin generates for a lateinit property holds no code of the project's: the frame that read the
    property too early takes its place when in the same file (only the function changes), else comes second.
    Weaker signals that the innermost own frame was handed what it failed on choose the second, with a reason on both
    (`runnerup.lead`). Vendored copies are no candidates, but for a Go trace whose frames land on no other file of
    the repository: the `vendor/` copies it was built from are then its only code that ran (`_built_from_vendor`)."""
    # `searched`: content searches already run, by pattern
    index, links, searched = index_files(files), resolve_links(symlinks or {}, files), dict[str, list[str]]()
    verdicts = InApp(language=stack.language, packages=tuple(packages), source_roots=tuple(source_roots))
    by_key: dict[tuple[str, str], Candidate] = {}
    notes: list[str] = []
    # frames set aside, by kind ("own", "library", "runtime") and rule; the number of frames read; Go frames
    # built from the repository's `vendor/` folder, candidates only when no other frame is (`_built_from_vendor`)
    dropped, frames, vendored = dict[str, list[str]](), 0, dict[tuple[str, str], Candidate]()
    anchor: tuple[int, tuple[str, str]] | None = None  # the innermost own frame: (strength of ownership, key)
    own_keys: dict[int, tuple[str, str]] = {}  # id of each own frame that became a candidate → its key
    order = _exception_order(stack)
    for depth, exc_at in enumerate(order):
        exc = stack.exceptions[exc_at]
        # own frames, and frames outside the service's code ranked among themselves
        seen_here, seen_other = set[tuple[str, str]](), set[tuple[str, str]]()
        for frame in exc.frames:
            frames += 1
            verdict = verdicts.classify(frame.module, frame.file)
            where = f"{frame.file or frame.module or '?'}" + (f":{frame.line}" if frame.line else "")
            if (aside := _not_written(frame, verdict, stack.language)) is not None:
                _drop(notes, dropped, "runtime", aside[0], f"{where} {frame.function}: {aside[1]}")
                continue
            named = map_frame_explained(frame, index, stack.language, packages)
            mapping = by_content(
                frame, named, verdict, stack.language, index, (packages, source_roots), grep, searched
            )
            mapping, verdict = followed(mapping, verdict, links, verdicts)
            if mapping.path is None:
                _drop(notes, dropped, "own" if verdict.in_app else "library",
                      f"{posixpath.basename(where)}: {mapping.note}" if verdict.in_app else verdict.reason,
                      f"{where} {frame.function}: {'own code' if verdict.in_app else verdict.reason}, "
                      f"not mapped ({mapping.note})")  # fmt: skip
                continue
            kept = named_enough(frame, mapping, verdict, index, source_roots, stack.language)
            if kept is None or kept.path is None:
                _drop(notes, dropped, "library", verdict.reason,
                      f"{where} {frame.function}: {verdict.reason}; only its file name matches {mapping.path}")
                continue
            mapping, path = kept, kept.path
            mapping, verdict = in_workspace(frame, mapping, verdict, stack.language, index)
            if not verdict.in_app and VENDORED.search(path):
                _vendored(notes, dropped, vendored, frame, mapping, verdict, stack.language, (depth, len(order)))
                continue
            function = bare_function(frame, stack.language)
            # unnamed frames of one file are different functions until the source names them
            key = (path, f"{function}:{frame.line}" if is_anonymous(function) else function)
            seen = seen_here if verdict.in_app else seen_other
            if key in seen:  # recursion or an async state machine printed twice: one candidate
                continue
            candidate = _score(frame, mapping, verdict, stack.language, len(seen), depth, len(order))
            seen.add(key)
            _note(notes, f"{where} {frame.function}: → {mapping.path} ({candidate.reason})")
            ownership = 2 if verdict.in_app and verdict.configured else 1 if verdict.in_app else 0
            if ownership:
                own_keys[id(frame)] = key
                anchor = (ownership, key) if anchor is None or ownership > anchor[0] else anchor
            if key in by_key:
                by_key[key].score = max(by_key[key].score, candidate.score)
                continue
            by_key[key] = candidate
    ranked = _with_beyond(stack, files, list(by_key.values()) or _built_from_vendor(vendored), grep, searched,
                          (by_key[anchor[1]] if anchor is not None else None, printed))  # fmt: skip
    head = lead(stack, by_key, anchor[1], own_keys) if anchor is not None else []
    return Ranking(_distinct_first([*head, *(c for c in ranked if all(c is not h for h in head))]), tuple(notes),
                   frames, dropped)  # fmt: skip


def _vendored(
    notes: list[str], dropped: dict[str, list[str]], vendored: dict[tuple[str, str], Candidate], frame: Frame,
    mapping: Mapping, verdict: Verdict, language: Language, depth: tuple[int, int],
) -> None:  # fmt: skip
    """A library frame that landed on a vendored copy is set aside; one in Go's `vendor/` folder is kept
    (innermost first, once per function) should no other frame become a candidate (`_built_from_vendor`).
    `depth`: the exception's place among those weighed, and their number."""
    where = f"{frame.file or frame.module or '?'}" + (f":{frame.line}" if frame.line else "")
    _drop(notes, dropped, "library", "vendored",
          f"{where} {frame.function}: {verdict.reason}; vendored copy at {mapping.path}")  # fmt: skip
    key = (mapping.path or "", bare_function(frame, language))
    # the frame itself says it was compiled from a vendor folder (its file or package path), not the module cache
    built_there = any(_GO_VENDOR.search(printed) for printed in (frame.file or "", frame.module or ""))
    if language == "go" and built_there and _GO_VENDOR.search(key[0]) and key not in vendored:
        vendored[key] = _score(frame, mapping, verdict, language, len(vendored), *depth)


def _built_from_vendor(vendored: dict[tuple[str, str], Candidate]) -> list[Candidate]:
    """Go frames compiled from the repository's `vendor/` folder, candidates when no frame of the trace lands
    on any other file of the repository: the build read these copies (`go build` loads packages from the
    vendor directory when vendoring is on, go.dev/ref/mod#vendoring, and in GOPATH mode from any `vendor/`
    above the importing package, cmd/go "Vendor Directories"), so they are the only code of the repository
    that ran, and changing them (updating the dependency) is a change of the repository."""
    built = []
    for candidate in vendored.values():
        reasons = [r.replace("innermost own", "innermost vendored").replace("own frame #", "vendored frame #")
                   for r in candidate.reasons]  # fmt: skip
        built.append(replace(candidate, reasons=[*reasons, "vendored copy in the repository: no other frame names "
                                                 "a file of it"]))  # fmt: skip
    return built


def _with_beyond(
    stack: StackTrace, files: Sequence[str], found: list[Candidate], grep: Grep | None, searched: dict[str, list[str]],
    innermost: tuple[Candidate | None, Sequence[str]],
) -> list[Candidate]:  # fmt: skip
    """The frames' candidates and the files the trace points at beyond them (`_beyond_frames`; `innermost` as
    there), best first."""
    beyond_them = _beyond_frames(stack, files, found, grep, searched, innermost)
    return sorted([*found, *beyond_them], key=lambda c: -c.score)


def _beyond_frames(
    stack: StackTrace, files: Sequence[str], ranked: Sequence[Candidate], grep: Grep | None,
    searched: dict[str, list[str]], innermost: tuple[Candidate | None, Sequence[str]] = (None, ()),
) -> list[Candidate]:  # fmt: skip
    """Files the trace points at without a frame in them (`beyond`): the code a failing test exercises,
    ranked above the test but never above the innermost own frame; files the exception's names lead to,
    then those defining what the innermost own frame's printed line calls (`_printed_callees`), ranked
    below every frame. `innermost`: the innermost own frame's candidate and the log text the trace was read
    from."""
    taken = {c.path for c in ranked}
    extra: list[Candidate] = []

    def add(path: str, score: float, reason: str, function: str = "") -> None:
        if path not in taken:
            taken.add(path)
            frame = Frame(function=function, file=path, in_app=True, raw="")
            extra.append(Candidate(frame=frame, path=path, function=function, score=score, reasons=[reason]))

    for test in [c for c in ranked if c.frame.in_app and TEST_PATH.search(c.path)][:2]:
        for subject in beyond.test_subjects(test.path, files):
            add(subject, test.score + 30, f"the code {posixpath.basename(test.path)} exercises (the test failed)")
    floor = min((c.score for c in ranked), default=40.0) - 5
    exc = stack.exceptions[_exception_order(stack)[0]] if _exception_order(stack) else stack.primary
    own = (lambda p: not TEST_PATH.search(p) and not VENDORED.search(p))  # noqa: E731
    for path, reason in beyond.named_in_exception(exc.type, exc.message, files, grep, searched, own)[:3]:
        add(path, floor, reason + " (not on the stack)")
    first, printed = innermost
    for name, path in _printed_callees(stack, first, printed, files, grep, searched, own):
        add(path, floor, f"defines {name}, which the innermost own frame's printed line calls (not on the stack)",
            name)  # fmt: skip
    return extra


def _printed_callees(
    stack: StackTrace, first: Candidate | None, printed: Sequence[str], files: Sequence[str], grep: Grep | None,
    searched: dict[str, list[str]], own: Callable[[str], bool],
) -> list[tuple[str, str]]:  # fmt: skip
    """(function, file) for what the source line CPython printed under the innermost own frame calls, when that
    frame is the deepest of its traceback, each function defined in the repository in at most `beyond.MAX_HITS`
    files. Nothing ran below that line, or the paste ends there: the exception came from the line itself, from
    code with no Python frame, from binding the call's arguments (`TypeError: f() got an unexpected keyword
    argument`), or from the callee's frames a cut paste lost. The callee is the next code to read in all but
    the first case; it comes below every frame, so it only fills a place of the first three the frames leave
    free (the ablation in `tests/fixtures/realworld/README.md`, "Second and third place")."""
    if grep is None or first is None or stack.language != "python":
        return []
    if not any(exc.frames and exc.frames[0] is first.frame for exc in stack.exceptions):
        return []
    source = beyond.printed_source(first.frame.raw, printed)
    if source is None:
        return []
    return [(name, path) for name in beyond.printed_callees(source)
            for path in beyond.defining(name, files, grep, searched, own)]  # fmt: skip


TOP = 3


def _distinct_first(ranked: Sequence[Candidate]) -> tuple[Candidate, ...]:
    """The first three candidates in three different files when the stack has them: a second frame of
    the same file rarely rescues a miss, the caller one file up often holds the fix."""
    head: list[Candidate] = []
    for c in ranked:
        if len(head) < TOP and all(c.path != h.path for h in head):
            head.append(c)
    return (*head, *(c for c in ranked if all(c is not h for h in head)))


def _drop(notes: list[str], dropped: dict[str, list[str]], kind: str, why: str, text: str) -> None:
    """A frame set aside: its note, and its kind and rule for the no-location sentence."""
    dropped.setdefault(kind, []).append(why)
    _note(notes, text)


def _note(notes: list[str], text: str) -> None:
    if len(notes) < 60:
        notes.append(text[:300])


def _score(
    frame: Frame, mapping: Mapping, verdict: Verdict, language: Language, own_seen: int, depth: int, exceptions: int
) -> Candidate:
    """One candidate's score; every signal that moves it leaves a reason."""
    assert mapping.path is not None
    function = bare_function(frame, language)
    reasons: list[str] = []
    if verdict.in_app and verdict.configured:
        score, reasons = 100.0, [verdict.reason]
    elif verdict.in_app:
        score, reasons = 85.0, ["own code (not a known library)"]
    else:
        score, reasons = 60.0, [f"{verdict.reason}, but the file is in the repository"]
    if mapping.ambiguous:
        reasons.append(f"ambiguous: also {', '.join(mapping.alternatives[:3])}")
    elif mapping.by_class:
        reasons.append(mapping.note)
    elif mapping.segments >= 2:
        score += 5
        reasons.append(f"{mapping.segments} path segments match")
    elif not mapping.installed:  # its note says the whole path below the package's root matched
        reasons.append("only the file name matches")
    if mapping.note and not mapping.by_class:  # how the file was reached: a link followed, a committed build
        reasons.append(mapping.note)
    steps = (30, 18, 10, 5, 2)
    if own_seen < len(steps):
        score += steps[own_seen]
    if own_seen == 0:
        reasons.append("innermost own frame" + (" of the root cause" if exceptions > 1 and depth == 0 else ""))
    else:
        reasons.append(f"own frame #{own_seen + 1} from the throw")
    if depth > 0:
        score -= 4 * depth
        reasons.append("in an exception that wraps the root cause")
    if frame.line is None:
        score -= 3
    elif compiled_elsewhere(frame, mapping.path):
        score -= 3
        reasons.append("line numbers from compiled code (no source map): the line in the source is a guess")
    return Candidate(frame=frame, path=mapping.path, function=function, score=score, reasons=reasons)
