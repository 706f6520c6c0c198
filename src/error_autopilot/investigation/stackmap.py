"""Stack frames → repository files, and the ranking of those files as the place of the bug.

Pure: works on a file listing, never on the disk, and never returns a path outside the listing.

Mapping: a frame's printed path is reduced to a *hint* (deployment root, `site-packages/`, the Go
module cache or GOPATH prefix, a build folder dropped; JVM/.NET: the package or namespace joined
with the file or class name) and the repository files with the same name compete on how many
trailing path segments they share with it. A tie is reported as ambiguous, never silently taken.
Compiled JavaScript (`dist/x.js`, `build/x.js`) also matches its TypeScript source (`src/x.ts`).

Ranking: every frame that maps to a file is a candidate, scored on explainable signals (own code by
configuration or by default, strength of the mapping, position in the chain), each keeping its
reasons; the innermost own frame always comes first (see `rank`), the other signals order the rest.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from error_autopilot.domain.stack import Frame, Language, StackTrace
from error_autopilot.incidents.stackparse.common import InApp, Verdict
from error_autopilot.incidents.stackparse.loose import UNNAMED
from error_autopilot.investigation import beyond

_SCHEME = re.compile(r"^(?:file://|webpack://[^/]*/|webpack-internal:///|async )")
_SITE = re.compile(r"^.*/(?:site|dist)-packages/")
_GO_CACHE = re.compile(r"^.*/pkg/mod/(?:[^@]+)@[^/]+/")
_GOPATH = re.compile(r"^.*/src/(?=[\w.-]+\.[a-z]{2,}/)")  # `/go/src/github.com/…`
_DRIVE = re.compile(r"^[A-Za-z]:/")
_JS_EXT = (".ts", ".tsx", ".mts", ".cts", ".js", ".jsx", ".mjs", ".cjs", ".vue", ".svelte", ".coffee")
_COMPILED = re.compile(r"\.(?:js|mjs|cjs|jsx)$")
_BUILD_DIRS = frozenset({"dist", "build", "out", "lib", "es", "esm", "cjs", "umd", "bin", "compiled", ".next",
                         "server"})  # fmt: skip
_BUILT = frozenset({"dist", "build", "out", ".next"})
_JVM_EXT = (".java", ".kt", ".scala", ".groovy", ".kts")
_DOTNET_EXT = (".cs", ".fs", ".vb", ".cshtml.cs", ".razor.cs", ".xaml.cs", ".aspx.cs")
_RUNTIME_MODULES = ("java.", "javax.", "jdk.", "sun.", "kotlin.", "kotlinx.coroutines.", "scala.", "System.",
                    "Microsoft.", "_COROUTINE.")  # fmt: skip
_TEST_PATH = re.compile(
    r"(?:^|/)(?:tests?|spec|specs|__tests__|testing|testdata|src/test|src/androidTest)/"
    r"|(?:^|/)test_[^/]*\.py$|_test\.(?:py|go)$|(?:Tests?|Spec|IT)\.(?:java|kt|scala|cs)$|\.(?:test|spec)\.[jt]sx?$"
)
# Names that say "I only check, fetch or re-raise": too generic to search the checkout for a definition.
_HELPER_NAME = re.compile(
    r"^(?:_*(?:getitem|pop|lookup|first|single|unwrap|expect|must\w*|"
    r"check\w*|validate\w*|verify\w*|ensure\w*|require\w*|assert\w*|raise\w*|throw\w*|rethrow\w*|fail\w*|"
    r"error\w*|panic\w*|fatal\w*|abort\w*|wrap\w*|handle_?error\w*|new_?error|errorf|newf?|invoke|call|apply|"
    r"__call__|__getitem__|__getattr__|log|logger|log_\w*|throwIf\w*|precondition\w*|"
    r"requireNonNull|checkNotNull|checkArgument|checkState|orElseThrow|getOrThrow)_*)$",
    re.IGNORECASE,
)
_VENDORED = re.compile(r"(?:^|/)(?:vendor|node_modules|third_party|third-party|site-packages|external)/")
_GO_ANON = re.compile(r"^(?:func(?:\d+|·\d+)|\d+|gowrap\d+|deferwrap\d+)$")  # `func·007`: Go ≤ 1.4
_JVM_SYNTHETIC = re.compile(r"^(?:lambda\$|access\$|\$anonfun\$)")
_JVM_WRAPPERS = frozenset({"invoke", "invokeSuspend", "run", "call", "apply", "accept", "get", "test", "resumeWith",
                           "doResume", "handle", "onNext", "subscribe"})  # fmt: skip

MAX_CANDIDATES = 10
_ANONYMOUS = frozenset({"anonymous", "<anonymous>", UNNAMED, "<lambda>", "<listcomp>", "<genexpr>", "<dictcomp>",
                        "<setcomp>", "lambda", "listcomp", "genexpr", "dictcomp", "setcomp", "module",
                        "<module>"})  # fmt: skip
# Where a named function starts, per language: what an anonymous frame's enclosing function looks like.
_JVM_MODIFIERS = (
    r"(?:(?:public|private|protected|internal|static|final|abstract|synchronized|native|override|virtual|sealed|"
    r"async|open|suspend|inline|partial|unsafe|extern|default|operator|infix|tailrec|@\w+(?:\([^)]*\))?)\s+)*"
)
_NOT_A_TYPE = r"(?!(?:return|new|throw|else|await|yield|case|var|val|if|for|while|switch|catch|using|lock|foreach)\b)"
_DEFINITIONS: dict[str, re.Pattern[str]] = {
    "python": re.compile(r"^(?P<indent>\s*)(?:async\s+)?def\s+(?P<name>[A-Za-z_]\w*)\s*\("),
    "node": re.compile(
        r"^(?P<indent>\s*)(?:export\s+)?(?:default\s+)?"
        r"(?:(?:public|private|protected|static|async|override|get|set)\s+)*"
        r"(?:function\s*\*?\s*(?P<name>[A-Za-z_$][\w$]*)\s*\("
        r"|(?P<method>(?!if\b|for\b|while\b|switch\b|catch\b|return\b)[A-Za-z_$][\w$]*)\s*\([^()]*\)\s*"
        r"(?::\s*[^={]+)?\{\s*$"
        r"|(?:const|let|var)?\s*(?P<bound>[A-Za-z_$][\w$.]*)\s*[:=]\s*(?:async\s+)?(?:function\b|\([^()]*\)\s*=>))"
    ),
    "go": re.compile(r"^(?P<indent>)func\s+(?:\([^)]*\)\s*)?(?P<name>[A-Za-z_]\w*)\s*[\[(]"),
    # a method: modifiers, a return type, the name, `(`; Kotlin's `fun name(`. Control keywords are no type.
    "jvm": re.compile(
        rf"^(?P<indent>\s*){_JVM_MODIFIERS}(?:fun\s+(?:<[^>]*>\s*)?(?:[\w.]+\.)?(?P<name>\w+)"
        rf"|(?:<[^>]*>\s+)?{_NOT_A_TYPE}[\w$.<>\[\]?,]+\s+(?P<method>(?!if\b|for\b|while\b)[A-Za-z_$][\w$]*))\s*\("
    ),
    "dotnet": re.compile(
        rf"^(?P<indent>\s*){_JVM_MODIFIERS}(?:<[^>]*>\s+)?{_NOT_A_TYPE}[\w.<>\[\]?,]+\s+"
        r"(?P<method>(?!if\b|for\b|while\b)[A-Za-z_]\w*)\s*(?:<[^()]*>)?\s*\("
    ),
}

# A class member whose parameters run over several lines (`public async getDetails({`): the modifier says
# it is a definition, not a call.
_TS_MEMBER = re.compile(
    r"^(?P<indent>\s*)(?:(?:public|private|protected|static|async|override)\s+)+"
    r"(?P<member>[A-Za-z_$][\w$]*)\s*(?:<[^()]*>)?\((?!.*\)\s*;\s*$)"
)
_CLOSER = re.compile(r"^[}\])]")
_REOPENS = re.compile(r"[{(\[,:]\s*$|=>\s*$")  # `} else {`, `}) {`, `):` continue the same block or signature
_COMMENT = re.compile(r"^(?:#|//|/?\*)")


def enclosing_function(lines: Sequence[str], line: int | None, language: Language) -> str | None:
    """The named function whose body holds `line` (1-based), for a frame the runtime printed without a
    name (an arrow function, a callback, a comprehension, a bare `file:line` position); None when the
    source does not say.

    Walking up from the line, a definition encloses it only if no block closed in between: a closing
    bracket at or left of the definition's indentation (a dedented statement in Python) ends its body,
    so a sibling helper defined earlier in the same function is not taken for the function."""
    pattern = _DEFINITIONS.get(language)
    if pattern is None or not line or line > len(lines):
        return None
    here = lines[line - 1]
    floor = len(here) - len(here.lstrip())
    for text in reversed(lines[max(0, line - 400) : line]):
        body = text.strip()
        if not body or _COMMENT.match(body):
            continue
        indent = len(text) - len(text.lstrip())
        m = pattern.match(text) or (_TS_MEMBER.match(text) if language == "node" else None)
        if m is not None and len(m["indent"]) < max(floor, 1):
            groups = m.groupdict()
            if name := groups.get("name") or groups.get("method") or groups.get("bound") or groups.get("member"):
                return str(name).rsplit(".", 1)[-1]
        closes = _CLOSER.match(body) is not None and not _REOPENS.search(body)
        if closes or (language == "python" and not _CLOSER.match(body)):
            floor = min(floor, indent)
    return None


def compiled_elsewhere(frame: Frame, path: str) -> bool:
    """The frame ran compiled JavaScript (`dist/x.js`) and maps to its source (`src/x.ts`): without a
    source map its line numbers are the compiled file's, not the source's."""
    file = (frame.file or "").replace("\\", "/")
    return bool(_COMPILED.search(file)) and posixpath.splitext(file)[1] != posixpath.splitext(path)[1]


def is_anonymous(function: str) -> bool:
    """A frame the runtime could not name."""
    return function in _ANONYMOUS


@dataclass(frozen=True)
class Mapping:
    """Where one frame lands in the repository."""

    path: str | None
    segments: int = 0  # trailing path segments shared with the frame's hint (1: the name only)
    alternatives: tuple[str, ...] = ()  # other files that matched equally well
    note: str = ""
    by_class: bool = False  # found by the class name's file convention (`PortfolioService` → `portfolio.service.ts`)

    @property
    def ambiguous(self) -> bool:
        """Several files matched equally well."""
        return bool(self.alternatives)


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


def _index(files: Sequence[str]) -> dict[str, list[str]]:
    index: dict[str, list[str]] = {}
    for path in files:
        name = posixpath.basename(path)
        index.setdefault(name, []).append(path)
        stem, ext = posixpath.splitext(name)
        if ext in _JS_EXT:
            index.setdefault("\0js:" + stem, []).append(path)
    return index


def _clean(file: str | None) -> str | None:
    """A frame's path with separators, schemes and query strings normalised; None when it is no path."""
    if not file:
        return None
    path = _SCHEME.sub("", file.replace("\\", "/").strip()).split("?", 1)[0]
    path = _DRIVE.sub("/", path).removeprefix("./")
    if path.startswith("/") and ".." in path.split("/"):  # `/srv/site/backoffice/../internship/x.py`: lexically
        path = _resolve_dots(path)
    if not path or path.startswith("<") or path in ("native", "Unknown Source") or ".." in path.split("/"):
        return None
    if "\x00" in path or posixpath.basename(path) in ("", ".", "~"):
        return None
    return path


def _resolve_dots(path: str) -> str:
    """`..` resolved within the path; left in (and so refused) where it would climb above the root."""
    kept: list[str] = []
    for part in path.split("/"):
        if part != "..":
            kept.append(part)
        elif len(kept) > 1:
            kept.pop()
        else:
            return path
    return "/".join(kept)


def _shared(path: str, hint: Sequence[str], *, compiled: bool, any_ext: bool = False) -> int:
    """Trailing segments `path` shares with `hint`; build folders match `src` for compiled JavaScript;
    `any_ext`: the file name is a class name, whatever the source language's extension."""
    a = path.split("/")[::-1]
    n = 0
    for i, (x, y) in enumerate(zip(a, hint, strict=False)):
        if i == 0 and any_ext:
            same = x.split(".", 1)[0] == y.split(".", 1)[0]
        elif i == 0 and compiled:
            same = posixpath.splitext(x)[0] == posixpath.splitext(y)[0]
        else:
            same = x == y or (compiled and y in _BUILD_DIRS and x in ("src", "lib", "source", "app"))
        if not same:
            break
        n += 1
    return n


def _choose(candidates: list[str], hint: str, *, compiled: bool = False, any_ext: bool = False) -> Mapping:
    if not candidates:
        return Mapping(None, note="no file of that name in the repository")
    parts = [p for p in hint.strip("/").split("/") if p][::-1]
    shared = [(_shared(c, parts, compiled=compiled, any_ext=any_ext), c) for c in candidates]
    scored = sorted(shared, key=lambda t: (-t[0], len(t[1])))
    best = scored[0][0]
    if best == 0:
        return Mapping(None, note="no file of that name in the repository")
    tied = [c for s, c in scored if s == best]
    if compiled and len(tied) > 1:
        # The built file and a file in a source folder both match. tsc emits one `.js` per `.ts` (its
        # outDir mirrors rootDir), so a `.ts` twin is the source the fix goes into. A `.js` twin is only
        # a name match: bundlers (ncc, webpack, rollup) fold every module into one `dist/index.js`, and a
        # GitHub Action commits that bundle (GitHub's JavaScript-action docs); the frame's line is a line
        # of the committed bundle, not of `src/index.js`.
        exact = [c for c in tied if _shared(c, parts, compiled=False) == best]
        source = [c for c in tied if not _BUILT.intersection(c.split("/"))]
        if exact and all(posixpath.splitext(c)[1] == posixpath.splitext(exact[0])[1] for c in source):
            others = tuple(c for c in tied if c != exact[0])[:3]
            return Mapping(exact[0], best, others, note="the committed build output the frame names")
        tied = source or tied
    if len(tied) > 1:  # more of the hint's words in the path: `Acme.Orders.Api/` for namespace `Acme.Orders.Api`
        words = set(re.split(r"[/._-]", hint.lower()))
        overlap = {c: len(words.intersection(re.split(r"[/._-]", c.lower()))) for c in tied}
        tied = [c for c in tied if overlap[c] == max(overlap.values())]
    if len(tied) > 1:  # a test twin of the file does not make the choice ambiguous
        tied = [c for c in tied if not _TEST_PATH.search(c)] or tied
    chosen, others = tied[0], tuple(tied[1:])
    return Mapping(chosen, best, others)


def _jvm_hint(frame: Frame, name: str | None, language: Language | None) -> tuple[list[str], str] | None:
    """Candidate file names and the package path hint of a JVM/.NET frame."""
    module = frame.module or ""
    if not module:
        return None
    if name is None and language is not None:
        dotnet = language == "dotnet"
    else:
        dotnet = name is None or name.endswith(_DOTNET_EXT)
    sep = "+" if dotnet and "+" in module else "$"
    owner = module.split(sep, 1)[0].split("`", 1)[0]
    package, _, cls = owner.rpartition(".")
    if name:
        names = [name]
    else:
        base = cls.removesuffix("Kt") if cls.endswith("Kt") else cls
        exts = _DOTNET_EXT if dotnet and not any(owner.startswith(p) for p in ("java.", "com.", "org.")) else _JVM_EXT
        names = [base + ext for ext in (*exts, *(_JVM_EXT if exts is _DOTNET_EXT else _DOTNET_EXT))]
    return names, "/".join(package.split(".")) if package else ""


def map_frame_explained(frame: Frame, index: dict[str, list[str]], language: Language | None = None) -> Mapping:
    """The repository file of a frame, how well it matched, and the alternatives when it is ambiguous."""
    raw = frame.file or ""
    path = _clean(raw)
    if raw and path is None and not raw.startswith("<") and raw not in ("native", "Unknown Source"):
        return Mapping(None, note="path is not a plain file path")
    jvm_like = language in ("jvm", "dotnet") or (
        language is None and frame.module is not None and "/" not in (path or "") and "." in frame.module
    )
    if jvm_like and (path is None or "/" not in path):
        jvm = _jvm_hint(frame, path, language)
        if jvm is None:
            return Mapping(None, note="no file and no class name")
        names, package = jvm
        found = [c for n in names for c in index.get(n, [])]
        return _choose(found, f"{package}/{names[0]}" if package else names[0], any_ext=path is None)
    if path is None:
        return Mapping(None, note="no file")
    hint = _GO_CACHE.sub("", _SITE.sub("", path))
    hint = _GOPATH.sub("", hint) if hint.endswith(".go") else hint
    name = posixpath.basename(path)
    compiled = bool(_COMPILED.search(name))
    found = list(index.get(name, []))
    if compiled or name.endswith(_JS_EXT):
        stem = posixpath.splitext(name)[0]
        found += [c for c in index.get("\0js:" + stem, []) if c not in found]
        mapping = _choose(found, hint, compiled=compiled)
        if mapping.segments < 2 and (by_class := _class_file(frame, index)) is not None:
            return by_class
        return mapping
    return _choose(found, hint, compiled=compiled)


def _class_file(frame: Frame, index: dict[str, list[str]]) -> Mapping | None:
    """A bundled frame (`main.js:1`, `PortfolioService.getDetails`) found by the class's file name
    convention: `PortfolioService` → `portfolio.service.ts`, `portfolio-service.ts`, `PortfolioService.ts`."""
    owner = frame.function.removeprefix("async ").removeprefix("new ").split(".", 1)[0]
    if "." not in frame.function or not re.fullmatch(r"[A-Z][a-z0-9]+(?:[A-Z][a-z0-9]+)+", owner):
        return None
    words = [w.lower() for w in re.findall(r"[A-Z][a-z0-9]+", owner)]
    stems = {owner, ".".join(words), "-".join(words), "_".join(words), "-".join(words[:-1]) + "." + words[-1]}
    found = sorted({c for stem in stems for c in index.get("\0js:" + stem, []) if not _TEST_PATH.search(c)})
    if not found:
        return None
    return Mapping(found[0], 1, tuple(found[1:]), note=f"class {owner} by file name convention", by_class=True)


# A content search of the checkout: an extended regular expression (as `git grep -E` reads it) →
# (path, line number, line text) of the lines that match. Supplied by the caller that has the checkout.
Grep = Callable[[str], Sequence[tuple[str, int, str]]]
MAX_SEARCHES = 12  # content searches per trace: a handful of distinct class names, never the whole stack
_DEFINES_TYPE: dict[str, str] = {  # `{}`: the type's name
    "jvm": r"(class|interface|object|enum|record)[[:space:]]+{}([^[:alnum:]_$]|$)",
    "dotnet": r"(class|struct|interface|record|enum)[[:space:]]+{}([^[:alnum:]_]|$)",
    "go": r"^(type[[:space:]]+|[[:space:]]+){}[[:space:]]+(struct|interface)",
    "node": r"class[[:space:]]+{}([^[:alnum:]_$]|$)",
    "python": r"^[[:space:]]*class[[:space:]]+{}([^[:alnum:]_]|$)",
}
_MODIFIER = (
    r"(public|private|protected|internal|static|final|abstract|synchronized|override|virtual|sealed|async|suspend)"
)
_DEFINES_METHOD: dict[str, str] = {  # a method definition: modifiers before the name, never a call (`x.Name(`)
    "dotnet": rf"^[[:space:]]*({_MODIFIER}[[:space:]]+)+[^=;(]*[[:space:]]{{}}[[:space:]]*(<[^>]*>)?[(]",
    "jvm": rf"^[[:space:]]*(({_MODIFIER}[[:space:]]+)+[^=;(]*[[:space:]]|([a-z]+[[:space:]]+)*fun[[:space:]]+"
           r"(<[^>]*>[[:space:]]*)?){}[[:space:]]*[(<]",
}  # fmt: skip
_JS_METHOD_DEF = (
    r"^[[:space:]]*((export|default|public|private|protected|static|async|override)[[:space:]]+)*"
    r"(function[[:space:]]*[*]?[[:space:]]*)?{}[[:space:]]*(<[^>]*>)?[(]"
)
_JS_DECLARED = re.compile(r"^\s*(?:export|default|public|private|protected|static|async|override|function)\b")
_JS_BODY_OPENS = re.compile(r"\)\s*(?::[^={]+)?\{\s*$")


def frame_type(frame: Frame, language: Language) -> str | None:
    """The class or type a frame names, when it looks like one: the JVM/.NET class (the outermost of
    nested ones), a Node `Class.method` owner, a Go method's receiver type."""
    if language in ("jvm", "dotnet") and frame.module:
        owner = re.split(r"[$+`]", frame.module.rsplit(".", 1)[-1])[0]
    elif language == "node" and "." in frame.function:
        owner = frame.function.removeprefix("async ").removeprefix("new ").split(".", 1)[0]
    elif language == "go" and (receiver := re.search(r"\(\*?(\w+)\)", frame.function)):
        owner = receiver[1]
    else:
        return None
    return owner if re.fullmatch(r"[A-Z][A-Za-z0-9_]{2,}", owner) and not owner.endswith("Kt") else None


def _found_by_content(
    frame: Frame, language: Language, index: dict[str, list[str]], grep: Grep, searched: dict[str, list[str]]
) -> Mapping | None:
    """The file that defines the frame's class or type (a Node bundle's method), found by searching the
    checkout's content: the file name does not follow the class (`BiLinkCommand` in
    `TwoWayLinkCommand.cs`), or the frame points at a bundle."""
    listed = {p for paths in index.values() for p in paths if "\0" not in p}
    type_name = frame_type(frame, language)
    what, pattern = "", ""
    if type_name and language in _DEFINES_TYPE:
        what, pattern = f"class {type_name}", _DEFINES_TYPE[language].format(type_name)
    elif language == "node" and "." in frame.function:
        method = bare_function(frame, language)
        if len(method) < 4 or is_anonymous(method) or _HELPER_NAME.match(method) or not re.fullmatch(r"\w+", method):
            return None
        what, pattern = f"method {method}", _JS_METHOD_DEF.format(method)
    if not pattern:
        return None
    found = _search(pattern, what, grep, listed, searched)
    if not found and what.startswith("class") and language in _DEFINES_METHOD:
        # the class is gone from this commit (renamed since the reporter's build): its method may not be
        method = bare_function(frame, language)
        if len(method) >= 4 and re.fullmatch(r"[A-Za-z_]\w*", method) and not _HELPER_NAME.match(method) and not (
            method in _JVM_WRAPPERS or method in ("MoveNext", "Main", "main", "ToString", "Equals")
        ):  # fmt: skip
            found = _search(_DEFINES_METHOD[language].format(method), f"method {method}", grep, listed, searched)
            what = f"{what} is not in this commit (renamed since the build?); method {method}"
    if not found or len(found) > 3:
        return None
    return Mapping(found[0], 1, tuple(found[1:]), note=f"{what} is defined there (content search)", by_class=True)


def _search(pattern: str, what: str, grep: Grep, listed: set[str], searched: dict[str, list[str]]) -> list[str]:
    """Non-test listed files with a line matching `pattern`, each pattern searched once per trace."""
    if pattern not in searched:
        if len(searched) >= MAX_SEARCHES:
            return []
        hits = grep(pattern)
        if what.startswith("method") and "{}" not in pattern:  # JS: a call looks like a definition to a regex
            hits = [h for h in hits if "=>" not in h[2] and (_JS_DECLARED.match(h[2]) or _JS_BODY_OPENS.search(h[2]))]
        searched[pattern] = sorted({path for path, _, _ in hits if path in listed and not _TEST_PATH.search(path)})
    return searched[pattern]


def _or_by_content(
    frame: Frame, mapping: Mapping, verdict: Verdict, language: Language, index: dict[str, list[str]],
    source_roots: Sequence[str], grep: Grep, searched: dict[str, list[str]],
) -> Mapping:  # fmt: skip
    """`mapping`, or the file a content search finds when the names found nothing, only a file name of
    code outside the service (which the ranking would drop), or several files."""
    dropped = mapping.path is not None and not verdict.in_app and mapping.segments < 2 and not (
        mapping.by_class and _under_root(mapping.path, source_roots)
    )
    if mapping.path is not None and not mapping.ambiguous and not dropped:
        return mapping
    if _VENDORED.search((frame.file or "").replace("\\", "/")):
        return mapping
    found = _found_by_content(frame, language, index, grep, searched)
    if found is None:
        return mapping
    if mapping.ambiguous and not dropped:  # the content settles which of the same-named files it is
        if found.path in (mapping.path, *mapping.alternatives) and not found.ambiguous:
            return Mapping(found.path, mapping.segments, note=found.note, by_class=True)
        return mapping
    return found


def map_frame(frame: Frame, files: Sequence[str], index: dict[str, list[str]] | None = None) -> str | None:
    """The repository path of a frame, or None."""
    return map_frame_explained(frame, index if index is not None else _index(files)).path


def bare_function(frame: Frame, language: Language | None = None) -> str:
    """The function's plain name as a developer would search for it (`(*Store).Get.func1` → `Get`,
    `<RunAsync>d__5.MoveNext` → `RunAsync`, `lambda$place$0` → `place`, `Object.handler` → `handler`)."""
    fn = frame.function.strip()
    if fn == UNNAMED:  # a position only: `_named` asks the source
        return fn
    if language == "go" or (frame.file or "").endswith(".go"):
        parts = [p for p in re.sub(r"\[[^\]]*\]", "", fn).split(".") if p]
        named = [p for p in parts if not _GO_ANON.match(p) and not p.startswith("(")]
        return named[-1] if named else fn
    if fn == "MoveNext" and (state_machine := re.search(r"\+<(\w+)>", frame.module or "")):  # `Type+<Run>d__4`
        return state_machine[1]
    if fn in ("<init>", ".ctor", "constructor", "<clinit>", ".cctor") and frame.module:
        return re.split(r"[.$+`]", frame.module.rsplit(".", 1)[-1])[0]
    if local := re.search(r">g__([A-Za-z_]\w*)\|", fn):  # .NET local function `<Outer>g__Inner|0_0`
        return local[1]
    if "<" in fn and ">" in fn and (m := re.search(r"<<?([A-Za-z_]\w*)>", fn)):  # .NET async/lambda
        return m[1]
    if language in ("jvm", None) and _JVM_SYNTHETIC.match(fn):
        pieces = [p for p in fn.split("$") if p and p not in ("lambda", "access", "anonfun") and not p.isdigit()]
        if pieces:
            return pieces[0]
    if language == "jvm" and fn in _JVM_WRAPPERS and frame.module and "$" in frame.module:
        inner = [p for p in frame.module.split("$")[1:] if p and not p.isdigit() and p[0].islower()]
        if inner:
            return inner[-1]
    if language == "dotnet" and (accessor := re.match(r"^(?:get|set|add|remove)_([A-Z]\w*)$", fn)):
        return accessor[1]  # a property or event accessor: the property is what a developer names
    fn = re.sub(r"\s*\[as [^\]]*\]$", "", fn).removeprefix("async ").removeprefix("new ")
    fn = fn.split("$", 1)[0] if language == "jvm" and "$" in fn and not fn.startswith("$") else fn
    tail = fn.rsplit(".", 1)[-1] if "." in fn else fn
    return tail.split("[", 1)[0] or fn


def _runtime(frame: Frame, verdict: Verdict, language: Language) -> bool:
    """Language runtime and standard library: never the service's bug, whatever the listing holds."""
    if verdict.in_app:
        return False
    module = frame.module or ""
    if language in ("jvm", "dotnet") and module.startswith(_RUNTIME_MODULES):
        return True
    return verdict.runtime


def _exception_order(stack: StackTrace) -> list[int]:
    """Exceptions with frames, in the order their frames are weighed: the root cause first, then its wrappers."""
    return [i for i in range(len(stack.exceptions))[::-1] if stack.exceptions[i].frames]


def rank(
    stack: StackTrace, files: Sequence[str], *, packages: Sequence[str] = (), source_roots: Sequence[str] = (),
    grep: Grep | None = None,
) -> Ranking:  # fmt: skip
    """Candidate locations for the bug, best first, each with its reasons. `grep` searches the checkout's
    content for a class whose file the names did not find (or found ambiguously).

    The first is the innermost own frame (of the root cause first; configured own code before code
    that is merely not a known library), whatever the other signals say: they order the runners-up.
    A rule may put another candidate first only on strong evidence, meaning a behaviour the runtime or
    library documents, shown by the trace itself, that nets at least two wins on the tuning corpus from
    at least two repositories and rarely fires where it does not help; no rule meets that bar today (the
    ablation in `tests/fixtures/realworld/README.md`), so none does."""
    index = _index(files)
    searched: dict[str, list[str]] = {}
    verdicts = InApp(language=stack.language, packages=tuple(packages), source_roots=tuple(source_roots))
    by_key: dict[tuple[str, str], Candidate] = {}
    notes: list[str] = []
    dropped: dict[str, list[str]] = {}  # frames set aside, by kind ("own", "library", "runtime") and rule
    frames = 0
    anchor: tuple[int, tuple[str, str]] | None = None  # the innermost own frame: (strength of ownership, key)
    order = _exception_order(stack)
    for depth, exc_at in enumerate(order):
        exc = stack.exceptions[exc_at]
        # own frames, and frames outside the service's code ranked among themselves
        seen_here, seen_other = set[tuple[str, str]](), set[tuple[str, str]]()
        for frame in exc.frames:
            frames += 1
            verdict = verdicts.classify(frame.module, frame.file)
            where = f"{frame.file or frame.module or '?'}" + (f":{frame.line}" if frame.line else "")
            if _runtime(frame, verdict, stack.language):
                _drop(notes, dropped, "runtime", verdict.reason,
                      f"{where} {frame.function}: runtime ({verdict.reason})")
                continue
            mapping = map_frame_explained(frame, index, stack.language)
            if grep is not None:
                mapping = _or_by_content(frame, mapping, verdict, stack.language, index, source_roots, grep, searched)
            if mapping.path is None:
                _drop(notes, dropped, "own" if verdict.in_app else "library",
                      f"{posixpath.basename(where)}: {mapping.note}" if verdict.in_app else verdict.reason,
                      f"{where} {frame.function}: {'own code' if verdict.in_app else verdict.reason}, "
                      f"not mapped ({mapping.note})")  # fmt: skip
                continue
            by_convention = mapping.by_class and _under_root(mapping.path, source_roots)
            if not verdict.in_app and mapping.segments < 2 and not by_convention:
                _drop(notes, dropped, "library", verdict.reason,
                      f"{where} {frame.function}: {verdict.reason}; only its file name matches {mapping.path}")
                continue
            if not verdict.in_app and _VENDORED.search(mapping.path):
                _drop(notes, dropped, "library", "vendored",
                      f"{where} {frame.function}: {verdict.reason}; vendored copy at {mapping.path}")
                continue
            function = bare_function(frame, stack.language)
            # unnamed frames of one file are different functions until the source names them
            key = (mapping.path, f"{function}:{frame.line}" if is_anonymous(function) else function)
            seen = seen_here if verdict.in_app else seen_other
            if key in seen:  # recursion or an async state machine printed twice: one candidate
                continue
            candidate = _score(frame, mapping, verdict, stack.language, len(seen), depth, len(order))
            seen.add(key)
            _note(notes, f"{where} {frame.function}: → {mapping.path} ({candidate.reason})")
            ownership = 2 if verdict.in_app and verdict.configured else 1 if verdict.in_app else 0
            if ownership and (anchor is None or ownership > anchor[0]):
                anchor = (ownership, key)
            if key in by_key:
                by_key[key].score = max(by_key[key].score, candidate.score)
                continue
            by_key[key] = candidate
    ranked = sorted([*by_key.values(), *_beyond_frames(stack, files, list(by_key.values()), grep, searched)],
                    key=lambda c: -c.score)  # fmt: skip
    if anchor is not None:
        first = by_key[anchor[1]]
        ranked = [first, *(c for c in ranked if c is not first)]
    return Ranking(_distinct_first(ranked), tuple(notes), frames, dropped)


def _beyond_frames(
    stack: StackTrace, files: Sequence[str], ranked: Sequence[Candidate], grep: Grep | None,
    searched: dict[str, list[str]],
) -> list[Candidate]:  # fmt: skip
    """Files the trace points at without a frame in them (`beyond`): the code a failing test exercises,
    ranked above the test but never above the innermost own frame; files the exception's names lead to,
    ranked below every frame."""
    taken = {c.path for c in ranked}
    extra: list[Candidate] = []

    def add(path: str, score: float, reason: str) -> None:
        if path not in taken:
            taken.add(path)
            frame = Frame(function="", file=path, in_app=True, raw="")
            extra.append(Candidate(frame=frame, path=path, function="", score=score, reasons=[reason]))

    for test in [c for c in ranked if c.frame.in_app and _TEST_PATH.search(c.path)][:2]:
        for subject in beyond.test_subjects(test.path, files):
            add(subject, test.score + 30, f"the code {posixpath.basename(test.path)} exercises (the test failed)")
    floor = min((c.score for c in ranked), default=40.0) - 5
    exc = stack.exceptions[_exception_order(stack)[0]] if _exception_order(stack) else stack.primary
    own = (lambda p: not _TEST_PATH.search(p) and not _VENDORED.search(p))  # noqa: E731
    for path, reason in beyond.named_in_exception(exc.type, exc.message, files, grep, searched, own)[:3]:
        add(path, floor, reason + " (not on the stack)")
    return extra


TOP = 3


def _distinct_first(ranked: Sequence[Candidate]) -> tuple[Candidate, ...]:
    """The first three candidates in three different files when the stack has them: a second frame of
    the same file rarely rescues a miss, the caller one file up often holds the fix."""
    head: list[Candidate] = []
    for c in ranked:
        if len(head) < TOP and all(c.path != h.path for h in head):
            head.append(c)
    return (*head, *(c for c in ranked if all(c is not h for h in head)))


def _under_root(path: str, roots: Sequence[str]) -> bool:
    return any(f"/{r.strip('/')}/" in "/" + path for r in roots if r.strip("/"))


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
    else:
        reasons.append("only the file name matches")
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


def map_stack(stack: StackTrace, files: Sequence[str]) -> list[tuple[Frame, str]]:
    """In-app frames that map to a file, throwing exception first, in order."""
    index = _index(files)
    mapped = []
    for frame in stack.in_app_frames():
        path = map_frame_explained(frame, index, stack.language).path
        if path is not None:
            mapped.append((frame, path))
    return mapped
