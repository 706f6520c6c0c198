"""Evidence beyond the stack's frames: repository files the trace points at without a frame in them.

Two kinds, each with a one-line reason, both pure (a listing and an optional content search):

- the code under test, when a test file is the service's frame: by the naming conventions of the test
  runners (`foo_test.go` → `foo.go`, `test_foo.py` → `foo.py`, `FooTest.java` → `Foo.java`,
  `foo.spec.ts` → `foo.ts`, Maven's `src/test/` → `src/main/`), else the eponymous file of the package
  the test's folder mirrors (`tests/client/` → `lib/client/client.go`);
- names the exception carries: an identifier quoted in the message or a class/function-like word in
  it, defined in the repository (content search), and the library that raised it (the exception type's
  package, `reactor.blockhound`) when a repository file is named after it: the integration that
  configures that library;
- the functions a Python frame's printed source line calls, defined in the repository, when that frame
  is the deepest of its traceback (`printed_callees`).
"""

from __future__ import annotations

import builtins
import keyword
import posixpath
import re
from collections.abc import Callable, Sequence

from error_autopilot.incidents.stacktrace import strip_line_prefix
from error_autopilot.investigation.contentsearch import Grep

MAX_NAME_SEARCHES = 3
MAX_HITS = 3  # a name defined in more files than this says nothing about where the bug is
_TEST_STEM = (
    (re.compile(r"^(?P<stem>.+)_test$"), "{}"),  # Go, Python's other convention
    (re.compile(r"^test_(?P<stem>.+)$"), "{}"),  # pytest
    (re.compile(r"^(?P<stem>.+?)(?:Tests?|Spec|IT)$"), "{}"),  # JUnit, xUnit, Kotest
    (re.compile(r"^(?P<stem>.+)\.(?:test|spec)$"), "{}"),  # Jest, Mocha
)
_TEST_DIRS = frozenset({"test", "tests", "spec", "specs", "__tests__", "testing", "it", "integration"})
# Words a message is made of that name nothing in a repository.
_COMMON = frozenset({
    "none", "null", "nil", "undefined", "true", "false", "self", "this", "object", "string", "int", "str", "list",
    "dict", "type", "value", "error", "exception", "argument", "property", "attribute", "function", "method",
    "nonetype", "index", "key", "keyword", "missing", "required", "unexpected", "positional", "expected",
    "instance", "instances", "class", "module", "cannot", "read", "call", "reference", "invalid", "memory",
    "address", "pointer", "dereference", "runtime", "range", "length", "init", "main",
})  # fmt: skip
_QUOTED = re.compile(r"""['"`‘’“”](?P<name>[A-Za-z_$][\w$.]{3,80})['"`‘’“”]""")
_CODEISH = re.compile(r"\b(?P<name>[A-Za-z_]\w*_\w+|[a-z]+[A-Z]\w*|[A-Z][a-z0-9]+[A-Z]\w*)\b")  # snake, camel, Pascal
_GENERIC_PACKAGE = frozenset({"java", "javax", "jdk", "sun", "com", "org", "net", "io", "lang", "util", "internal",
                              "exceptions", "exception", "errors", "error", "core", "common", "api", "impl",
                              "system", "microsoft", "kotlin", "kotlinx", "scala", "python", "builtins", "node",
                              "runtime"})  # fmt: skip
_DEFINES_NAME = (
    r"^[[:space:]]*(export[[:space:]]+)?((public|private|protected|internal|static|async|abstract|final|override)"
    r"[[:space:]]+)*(def|class|func|function|fun|interface|struct|enum|record|object|type)[[:space:]]+"
    r"(\([^)]*\)[[:space:]]*)?{}([^[:alnum:]_$]|$)"
)


def test_subjects(test_path: str, listed: Sequence[str]) -> list[str]:
    """The files a test file most likely exercises, best first (at most two)."""
    folder, name = posixpath.split(test_path)
    stem, ext = posixpath.splitext(name)
    found: list[str] = []
    by_name: dict[str, list[str]] = {}
    for path in listed:
        by_name.setdefault(posixpath.basename(path), []).append(path)
    for pattern, _ in _TEST_STEM:
        if m := pattern.match(stem):
            same = [p for p in by_name.get(m["stem"] + ext, []) if p != test_path]
            found += sorted(same, key=lambda p: -_shared_tail(posixpath.dirname(p), _untested(folder)))[:1]
            break
    if not found:  # a folder of tests mirrors a package: `tests/client/` → `lib/client/client.go`
        package = posixpath.basename(folder)
        if package and package not in _TEST_DIRS:
            mirrored = [p for p in by_name.get(package + ext, []) if posixpath.basename(posixpath.dirname(p)) == package
                        and p != test_path and not set(p.split("/")) & _TEST_DIRS]  # fmt: skip
            found += sorted(mirrored, key=len)[:1]
    return found


def _untested(folder: str) -> str:
    """The source folder a test folder mirrors (Maven's `src/test/java/x` → `src/main/java/x`)."""
    return folder.replace("src/test/", "src/main/").replace("src/androidTest/", "src/main/")


def _shared_tail(a: str, b: str) -> int:
    x, y = a.split("/")[::-1], b.split("/")[::-1]
    n = 0
    while n < min(len(x), len(y)) and x[n] == y[n]:
        n += 1
    return n


def exception_names(exc_type: str, message: str) -> tuple[list[str], list[str]]:
    """Identifiers the message names (quoted ones first), and the raising library's package words."""
    names: list[str] = []
    for m in [*_QUOTED.finditer(message), *_CODEISH.finditer(message)]:
        name = m["name"].rsplit(".", 1)[-1].strip("$")
        if len(name) >= 4 and name.lower() not in _COMMON and not name.startswith("__") and name not in names:
            names.append(name)
    package = exc_type.rsplit(".", 1)[0].split(".") if "." in exc_type else []
    libraries = [w for w in package if len(w) >= 5 and w.lower() not in _GENERIC_PACKAGE]
    return names, libraries


def named_in_exception(
    exc_type: str, message: str, listed: Sequence[str], grep: Grep | None, searched: dict[str, list[str]],
    is_own: Callable[[str], bool],
) -> list[tuple[str, str]]:  # fmt: skip
    """(path, reason) for own files the exception's names point at, in the order found."""
    names, libraries = exception_names(exc_type, message[:500])
    out: list[tuple[str, str]] = []
    for library in libraries:
        hits = [p for p in listed if library.lower() in posixpath.basename(p).lower() and is_own(p)]
        if 0 < len(hits) <= MAX_HITS:
            out += [(p, f"named after {library}, the library that raised {exc_type.rsplit('.', 1)[-1]}") for p in hits]
    if grep is None:
        return out
    for name in names[:MAX_NAME_SEARCHES]:
        out += [(p, f"defines {name}, named in the exception message") for p in defining(name, listed, grep, searched,
                                                                                            is_own)]  # fmt: skip
    return out


MAX_CALLEES = 2
_CALL = re.compile(r"(?<![\w$])(?P<name>[A-Za-z_]\w*)\s*\(")
_NOT_CALLED = frozenset(dir(builtins)) | frozenset(keyword.kwlist)  # `len(`, `if (`: nothing of the repository's
_PY_FRAME = re.compile(r'^\s*File "')


def printed_source(frame_raw: str, texts: Sequence[str]) -> str | None:
    """The source line CPython printed under a frame (the line after its `File "…", line N, in f` line, a
    shipper's prefix taken off) in the first of `texts` that holds that frame; None when none does."""
    if not frame_raw:
        return None
    for text in texts:
        lines = strip_line_prefix(text.splitlines())
        for at, line in enumerate(lines[:-1]):
            if line.strip() == frame_raw:
                source = lines[at + 1].strip()
                return source if source and not _PY_FRAME.match(source) else None
    return None


def printed_callees(source: str) -> list[str]:
    """The functions a source line calls, in the order written (at most MAX_CALLEES), builtins and
    keywords left out."""
    names: list[str] = []
    for m in _CALL.finditer(source):
        if m["name"] not in _NOT_CALLED and m["name"] not in names:
            names.append(m["name"])
    return names[:MAX_CALLEES]


def defining(
    name: str, listed: Sequence[str], grep: Grep, searched: dict[str, list[str]], is_own: Callable[[str], bool]
) -> list[str]:
    """The own files that define `name` (content search, cached in `searched`); empty when more than MAX_HITS do."""
    pattern = _DEFINES_NAME.format(re.escape(name))
    if pattern not in searched:
        listed_set = set(listed)
        searched[pattern] = sorted({p for p, _, _ in grep(pattern) if p in listed_set and is_own(p)})
    hits = searched[pattern]
    return hits if len(hits) <= MAX_HITS else []
