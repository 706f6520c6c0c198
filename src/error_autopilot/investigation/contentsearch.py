"""Content search of the checkout when a frame's names find no file: the file that defines the frame's class
or type (a class in a file named otherwise, a Node bundle's method), or the file a Go function moved to since
the build that printed the trace. Pure: the search itself (`Grep`) is supplied by the caller that has the
checkout, each pattern is searched once per trace, and at most `MAX_SEARCHES` patterns are."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Sequence

from error_autopilot.domain.stack import Frame, Language
from error_autopilot.incidents.stackparse.common import Verdict
from error_autopilot.investigation.framenames import JVM_WRAPPERS, bare_function, is_anonymous
from error_autopilot.investigation.pathmap import TEST_PATH, VENDORED, Mapping, compiled_elsewhere, under_root

# Names that say "I only check, fetch or re-raise": too generic to search the checkout for a definition.
_HELPER_NAME = re.compile(
    r"^(?:_*(?:getitem|pop|lookup|first|single|unwrap|expect|must\w*|"
    r"check\w*|validate\w*|verify\w*|ensure\w*|require\w*|assert\w*|raise\w*|throw\w*|rethrow\w*|fail\w*|"
    r"error\w*|panic\w*|fatal\w*|abort\w*|wrap\w*|handle_?error\w*|new_?error|errorf|newf?|invoke|call|apply|"
    r"__call__|__getitem__|__getattr__|log|logger|log_\w*|throwIf\w*|precondition\w*|"
    r"requireNonNull|checkNotNull|checkArgument|checkState|orElseThrow|getOrThrow)_*)$",
    re.IGNORECASE,
)
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
            method in JVM_WRAPPERS or method in ("MoveNext", "Main", "main", "ToString", "Equals")
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
        searched[pattern] = sorted({path for path, _, _ in hits if path in listed and not TEST_PATH.search(path)})
    return searched[pattern]


def or_by_content(
    frame: Frame, mapping: Mapping, verdict: Verdict, language: Language, index: dict[str, list[str]],
    source_roots: Sequence[str], grep: Grep, searched: dict[str, list[str]],
) -> Mapping:  # fmt: skip
    """`mapping`, or the file a content search finds when the names found nothing, only a file name of
    code outside the service (which the ranking would drop), or several files."""
    dropped = mapping.path is not None and not verdict.in_app and mapping.segments < 2 and not (
        mapping.by_class and under_root(mapping.path, source_roots)
    )
    if mapping.path is not None and not mapping.ambiguous and not dropped:
        return mapping
    if VENDORED.search((frame.file or "").replace("\\", "/")):
        return mapping
    found = _found_by_content(frame, language, index, grep, searched)
    if found is None:
        return mapping
    if mapping.ambiguous and not dropped:  # the content settles which of the same-named files it is
        if found.path in (mapping.path, *mapping.alternatives) and not found.ambiguous:
            return Mapping(found.path, mapping.segments, note=found.note, by_class=True)
        return mapping
    return found


# A Go function's definition (a method's with its receiver type): `{}` the receiver pattern, `{{}}` the name.
_GO_FUNC = r"^func[[:space:]]+{}{}[[:space:]]*[[(]"
MAX_MOVED_SEARCHES = 4  # Go frames checked for a moved function per trace: the innermost own ones matter


def go_package_folder(module: str, packages: Sequence[str]) -> str | None:
    """The repository folder of a Go package below a configured one: an import path is its module's path joined
    with the package's folder in the module (go.dev/ref/mod, "Modules, packages, and versions"); `""` for the
    configured package itself, None for a package outside every configured one."""
    for pkg in sorted((p.strip("/") for p in packages if p.strip("/")), key=len, reverse=True):
        if module == pkg:
            return ""
        if module.startswith(pkg + "/"):
            return module[len(pkg) + 1 :]
    return None


def _go_definition(frame: Frame, name: str) -> str:
    receiver = frame_type(frame, "go") or (m[1] if (m := re.search(r"\(\*?(\w+)\)", frame.function)) else None)
    return _GO_FUNC.format(rf"[(][^)]*[[:space:]*]{receiver}[])[]" + r"[^(]*" if receiver else "", name)


def or_package_function(
    frame: Frame, mapping: Mapping, verdict: Verdict, language: Language, index: dict[str, list[str]],
    packages: Sequence[str], grep: Grep, searched: dict[str, list[str]],
) -> Mapping:  # fmt: skip
    """`mapping`, or, for an own Go frame printed without its position (`stackparse.go._CUT_CALL`: the entry cut
    below its call line), the one file of its package's folder (`go_package_folder`) that defines its function:
    a package-level name is declared once across the package's files (the Go spec's package block)."""
    name = bare_function(frame, "go")
    if language != "go" or frame.file or mapping.path is not None or not verdict.in_app or not frame.module:
        return mapping
    if name == "init" or not re.fullmatch(r"[A-Za-z_]\w*", name) or is_anonymous(name):
        return mapping
    folder = go_package_folder(frame.module, packages)
    if folder is None:
        return mapping
    listed = {p for paths in index.values() for p in paths if "\0" not in p}
    found = [f for f in _search(_go_definition(frame, name), f"function {name}", grep, listed, searched)
             if posixpath.dirname(f) == folder]  # fmt: skip
    if len(found) != 1:
        return mapping
    return Mapping(found[0], 1, note=f"{name} is defined there, in its package's folder (content search)")


def or_moved_function(
    frame: Frame, mapping: Mapping, verdict: Verdict, language: Language, index: dict[str, list[str]], grep: Grep,
    searched: dict[str, list[str]],
) -> Mapping:  # fmt: skip
    """`mapping`, or the file a Go function moved to since the build that printed the trace. Go names a
    frame's function by package and name, and a package-level name is declared once across the package's
    files (the Go spec's package block); the file is only where it was at build time. So when the file the
    frame names no longer defines the function and exactly one other file in its folder does, it moved there.
    Never `init`: a package may hold many `init` functions, several in one file, none of them declared in the
    package block (the Go spec, "Package initialization"), and the package's own initialiser that the compiler
    writes is printed `init` at a line of whichever file it ends in, a file that declares no `init` at all."""
    name = bare_function(frame, "go")
    if language != "go" or not verdict.in_app or mapping.path is None or mapping.ambiguous or name == "init":
        return mapping
    if not re.fullmatch(r"[A-Za-z_]\w*", name) or is_anonymous(name):
        return mapping
    receiver = frame_type(frame, "go")
    pattern = _GO_FUNC.format(rf"[(][^)]*[[:space:]*]{receiver}[])[]" + r"[^(]*" if receiver else "", name)
    if pattern not in searched and sum(k.startswith("^func") for k in searched) >= MAX_MOVED_SEARCHES:
        return mapping
    listed = {p for paths in index.values() for p in paths if "\0" not in p}
    found = _search(pattern, f"function {name}", grep, listed, searched)
    folder = posixpath.dirname(mapping.path)
    moved = [f for f in found if posixpath.dirname(f) == folder]
    if not found or mapping.path in found or len(moved) != 1:
        return mapping
    note = f"{name} is no longer in {mapping.path}: the same package defines it in {moved[0]} (content search)"
    return Mapping(moved[0], mapping.segments, note=note)


def or_bundled_function(
    frame: Frame, mapping: Mapping, verdict: Verdict, language: Language, index: dict[str, list[str]], grep: Grep,
    searched: dict[str, list[str]],
) -> Mapping:  # fmt: skip
    """`mapping`, or the source file that defines a compiled JavaScript frame's function when the source of the
    frame's file (`dist/index.js` → `src/index.ts`, by stem) does not and exactly one other file below that
    source's folder does. A bundler writes every module the entry reaches into one output file named after the
    entry (rollup's `output.file`, webpack's `[name].js` per entry chunk, esbuild's `--bundle`), so the file's
    stem names the entry module only; tsc, writing one `.js` per `.ts`, leaves each function in the source its
    file is named after, which then defines it and keeps the frame where it was."""
    if language != "node" or mapping.path is None or mapping.ambiguous or not compiled_elsewhere(frame, mapping.path):
        return mapping
    name = bare_function(frame, language)
    if len(name) < 4 or is_anonymous(name) or _HELPER_NAME.match(name) or not re.fullmatch(r"[A-Za-z_$][\w$]*", name):
        return mapping
    listed = {p for paths in index.values() for p in paths if "\0" not in p}
    found = _search(_JS_METHOD_DEF.format(re.escape(name)), f"method {name}", grep, listed, searched)
    folder = posixpath.dirname(mapping.path)
    below = [f for f in found if f.startswith(folder + "/")] if folder else found
    if not found or mapping.path in found or len(below) != 1:
        return mapping
    note = f"{name} is defined in {below[0]}, not in {mapping.path}: the compiled file is a bundle (content search)"
    return Mapping(below[0], mapping.segments, note=note)
