"""Write `symbols.json` for every real-world corpus case: where functions, methods, classes and types
are defined in the files that matter, at the case's `parent_commit` — names and line numbers only,
like a ctags index, never code.

Files that matter: the files the trace's frames map to, the truth files, and any file of the
listing that defines a class or type a frame names. Reads the bare mirrors under
`/work/.mirror/<Owner>+<repo>/repo` (or its `.git` when the snapshot came with a work tree; fetch a
missing one first). Usage (`--root` for a held-out set, tests/fixtures/realworld-holdout<N>):

    .venv/bin/python -m scripts.corpus_symbols [--root DIR] [case-id ...]
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

from tests.support.corpus import CORPUS, Case, load_cases

from error_autopilot.domain.stack import StackTrace
from error_autopilot.incidents.stacktrace import parse_stacktrace
from error_autopilot.investigation.pathmap import index_files, map_frame_explained

MIRRORS = Path("/work/.mirror")
MAX_CLASS_FILES = 6  # files per class name kept from the content search: enough to make it a real choice
_KEYWORDS = frozenset({"if", "for", "foreach", "while", "switch", "catch", "return", "new", "else", "using", "lock",
                       "when", "function", "typeof", "sizeof", "nameof", "await", "throw", "do", "try", "super",
                       "this", "base", "fixed", "checked", "unchecked", "default", "yield", "delete",
                       "void"})  # fmt: skip
_PY_DEF = re.compile(r"^(?P<col>[ \t]*)(?:async\s+)?def\s+(?P<name>[A-Za-z_]\w*)\s*\(")
_PY_CLASS = re.compile(r"^(?P<col>[ \t]*)class\s+(?P<name>[A-Za-z_]\w*)\b")
_CLASS = re.compile(
    r"^(?P<col>\s*)(?:[\w@\[\]().\",= ]*?\s)?(?:class|interface|enum|object|record|struct|trait)\s+"
    r"(?P<name>[A-Za-z_]\w*)"
)
_GO_FUNC = re.compile(r"^func\s+(?:\(\s*(?:\w+\s+)?\*?(?P<recv>\w+)[^)]*\)\s*)?(?P<name>\w+)\s*[\[(]")
# a package-level variable whose initialiser opens a block (`var rootCmd = &cobra.Command{`): function literals
# inside it are named after no function (`glob..func1`, `init.func1`), so the variable is what holds them
_GO_VAR = re.compile(r"^var\s+(?P<name>[A-Za-z_]\w*)\b[^=]*=.*\{\s*$")
_GO_TYPE = re.compile(r"^(?:type\s+|\t)(?P<name>[A-Z_a-z]\w*)\s+(?:struct|interface)\b|^type\s+(?P<alias>\w+)\s+\S")
_KT_FUN = re.compile(r"^(?P<col>\s*)(?:[a-z]+\s+)*fun\s+(?:<[^>]*>\s*)?(?:[\w.<>?]+\.)?(?P<name>\w+)\s*\(")
_C_METHOD = re.compile(
    r"^(?P<col>\s*)(?:(?:public|private|protected|internal|static|final|abstract|override|virtual|async|"
    r"synchronized|sealed|partial|new|extern|unsafe|default|native|transient|strictfp)\s+)*"
    r"(?:@?[\w<>\[\],.?]+(?:<[^()]*>)?\s+)+(?P<name>[A-Za-z_]\w*)\s*(?:<[^()]*>)?\s*\("
)
_C_CTOR = re.compile(r"^(?P<col>\s*)(?:(?:public|private|protected|internal|static)\s+)+(?P<name>[A-Z]\w*)\s*\(")
_JS_DEF = re.compile(
    r"^(?P<col>\s*)(?:export\s+)?(?:default\s+)?(?:async\s+)?function\s*\*?\s*(?P<name>[A-Za-z_$][\w$]*)\s*\("
    r"|^(?P<col2>\s*)(?:(?:public|private|protected|static|async|override|readonly|get|set)\s+)*"
    r"(?P<method>[A-Za-z_$][\w$]*)\s*\([^()]*(?:\([^()]*\)[^()]*)*\)\s*(?::\s*[^={;]+)?\{"
    r"|^(?P<col4>\s*)(?:(?:public|private|protected|static|async|override)\s+)+(?P<member>[A-Za-z_$][\w$]*)\s*(?:<[^()]*>)?\("
    r"|^(?P<col3>\s*)(?:export\s+)?(?:const|let|var)?\s*(?P<bound>[A-Za-z_$][\w$.]*)\s*[:=]\s*(?:async\s+)?"
    r"(?:function\b|\([^()]*\)\s*(?::\s*[^=]+)?=>|[A-Za-z_$][\w$]*\s*=>)"
)
_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`(?:[^`\\]|\\.)*`|//.*$')
MAX_HEAD_LINES = 15  # lines a definition's head may span (one parameter a line, decorators and types between)


def _git(gitdir: Path, *args: str) -> str:
    done = subprocess.run(["git", "--git-dir", str(gitdir), *args], capture_output=True, check=False)
    return done.stdout.decode("utf-8", errors="replace")


def _language(path: str) -> str | None:
    ext = path.rsplit(".", 1)[-1].lower() if "." in path else ""
    return {"py": "python", "go": "go", "java": "java", "kt": "kotlin", "kts": "kotlin", "scala": "java",
            "groovy": "java", "cs": "csharp", "fs": None, "js": "js", "jsx": "js", "ts": "js", "tsx": "js",
            "mjs": "js", "cjs": "js", "vue": "js"}.get(ext)  # fmt: skip


def _brace_end(lines: list[str], start: int) -> int | None:
    """The line (1-based) closing the first `{` at or after `start` (0-based); strings and `//` comments
    skipped, which is enough for an index."""
    depth, opened = 0, False
    for i in range(start, min(len(lines), start + 4000)):
        text = _STRINGS.sub("", lines[i])
        if not opened and i > start + 30:
            return None  # a declaration without a body (`abstract`, an interface method)
        for ch in text:
            if ch == "{":
                depth, opened = depth + 1, True
            elif ch == "}":
                depth -= 1
                if opened and depth == 0:
                    return i + 1
        if not opened and text.rstrip().endswith(";"):
            return None
    return None


def _indent_end(lines: list[str], start: int, col: int) -> int:
    end = start + 1
    for i in range(start + 1, len(lines)):
        text = lines[i]
        if not text.strip():
            continue
        if len(text) - len(text.lstrip()) <= col:
            break
        end = i + 1
    return end


def _head(lines: list[str], i: int) -> str:
    """Line `i`, joined with the lines that close the parenthesis it leaves open (a signature written one
    parameter a line: `updateObjectsByQuery(` … `): Promise<any> {`), so one pattern reads the whole head;
    line `i` alone when it closes every parenthesis it opens or nothing closes them within `MAX_HEAD_LINES`."""
    text = _STRINGS.sub("", lines[i])
    depth = text.count("(") - text.count(")")
    if depth <= 0:
        return lines[i]
    parts = [lines[i].rstrip()]
    for j in range(i + 1, min(len(lines), i + MAX_HEAD_LINES)):
        text = _STRINGS.sub("", lines[j])
        parts.append(lines[j].strip())
        depth += text.count("(") - text.count(")")
        if depth <= 0:
            # the body's brace may open on the line after the closing parenthesis (`)\n{`, C# and Allman style)
            if "{" not in text and j + 1 < len(lines) and lines[j + 1].strip().startswith("{"):
                parts.append("{")
            return " ".join(parts)
    return lines[i]


def definitions(path: str, text: str) -> list[dict[str, object]]:
    """Definitions of one file: line, end, column, kind, name."""
    lang = _language(path)
    lines = text.splitlines()
    out: list[dict[str, object]] = []

    def add(i: int, col: int, kind: str, name: str, end: int | None, owner: str | None = None) -> None:
        out.append({"line": i + 1, "end": end, "col": col, "kind": kind, "name": name}
                   | ({"owner": owner} if owner else {}))  # fmt: skip

    for i, first in enumerate(lines):
        if len(first) > 400:
            continue
        line = _head(lines, i)
        if lang == "python":
            if m := _PY_DEF.match(line) or _PY_CLASS.match(line):
                col = len(m["col"].expandtabs(4))
                kind = "class" if line.lstrip().startswith("class") else ("method" if col else "function")
                add(i, col, kind, m["name"], _indent_end(lines, i, col))
        elif lang == "go":
            if m := _GO_FUNC.match(line):
                add(i, 0, "method" if m["recv"] else "function", m["name"], _brace_end(lines, i), m["recv"])
            elif m := _GO_VAR.match(line):
                add(i, 0, "variable", m["name"], _brace_end(lines, i))
            elif (m := _GO_TYPE.match(line)) and (line.startswith("type") or line.startswith("\t")):
                name = m["name"] or m["alias"]
                add(i, len(line) - len(line.lstrip()), "type", name, _brace_end(lines, i) if "{" in line else i + 1)
        elif lang in ("java", "kotlin", "csharp"):
            stripped = line.lstrip()
            if stripped.startswith(("//", "*", "/*", "import ", "package ", "using ", "return ", "throw ")):
                continue
            col = len(line) - len(stripped)
            if (
                (m := _CLASS.match(line))
                and "(" not in line.split(m["name"], 1)[0]
                and "=" not in line.split(m["name"], 1)[0]
            ):
                add(i, col, "class", m["name"], _brace_end(lines, i))
            elif lang == "kotlin" and (m := _KT_FUN.match(line)):
                add(i, col, "method", m["name"], _brace_end(lines, i))
            elif (m := _C_METHOD.match(line) or _C_CTOR.match(line)) and m["name"] not in _KEYWORDS:
                if "=" in line.split("(", 1)[0] or stripped.endswith(";"):
                    continue
                add(i, col, "method", m["name"], _brace_end(lines, i))
        elif lang == "js":
            stripped = line.lstrip()
            col = len(line) - len(stripped)
            if (m := _CLASS.match(line)) and stripped.startswith(("class ", "export ", "abstract ")):
                add(i, col, "class", m["name"], _brace_end(lines, i))
            elif m := _JS_DEF.match(line):
                name = m["name"] or m["method"] or m["member"] or m["bound"]
                if name in _KEYWORDS or name is None:
                    continue
                end = _brace_end(lines, i) if "{" in line else None
                add(i, col, "function", name.rsplit(".", 1)[-1], end)
    return out


def _frame_classes(stack: StackTrace) -> set[str]:
    """Class and type names the frames print: JVM/.NET owners and nested classes, Node `Class.method`
    owners, Go receivers."""
    names: set[str] = set()
    for exc in stack.exceptions:
        for f in exc.frames:
            if stack.language in ("jvm", "dotnet") and f.module:
                owner = f.module.rsplit(".", 1)[-1]
                names.update(p for p in re.split(r"[$+`]", owner) if re.fullmatch(r"[A-Z]\w+", p))
            elif stack.language == "node" and "." in f.function:
                owner = f.function.removeprefix("async ").removeprefix("new ").split(".", 1)[0]
                if re.fullmatch(r"[A-Z]\w+", owner):
                    names.add(owner)
            elif stack.language == "go" and (m := re.search(r"\(\*?(\w+)\)", f.function)):
                names.add(m[1])
    return {n for n in names if not n.endswith("Kt") and len(n) > 2}


def _class_files(gitdir: Path, commit: str, names: Iterable[str], listed: set[str]) -> set[str]:
    found: set[str] = set()
    for name in sorted(names):
        pattern = rf"(class|interface|enum|object|record|struct|trait|type)\s+{name}\b"
        out = _git(gitdir, "grep", "-l", "-E", "-I", pattern, commit, "--")
        hits = sorted(p.split(":", 1)[1] for p in out.splitlines() if ":" in p)
        found.update([p for p in hits if p in listed and _language(p)][:MAX_CLASS_FILES])
    return found


def symbols(case: Case) -> dict[str, object]:
    """The definitions of one case's files that matter."""
    repo = case.data["repo"]
    commit = case.data["parent_commit"]
    gitdir = MIRRORS / repo.replace("/", "+", 1) / "repo"
    if (gitdir / ".git").is_dir():
        gitdir = gitdir / ".git"
    listed = set(case.files)
    wanted = set(case.truth_files) & listed
    stack = parse_stacktrace(case.trace, packages=case.packages, source_roots=case.source_roots)
    if stack is not None:
        index = index_files(case.files)
        for exc in stack.exceptions:
            for frame in exc.frames:
                m = map_frame_explained(frame, index, stack.language)
                wanted.update(p for p in (m.path, *m.alternatives) if p)
        wanted |= _class_files(gitdir, commit, _frame_classes(stack), listed)
    files: dict[str, list[dict[str, object]]] = {}
    for path in sorted(wanted):
        if _language(path) is None:
            continue
        text = _git(gitdir, "show", f"{commit}:{path}")
        if defs := definitions(path, text):
            files[path] = defs
    return {"commit": commit, "files": files}


def main(args: list[str]) -> None:
    """Regenerate `symbols.json` for the given cases (all when none) of the corpus or of `--root DIR`."""
    root, ids = (Path(args[1]), args[2:]) if args[:1] == ["--root"] else (CORPUS, args)
    for case in load_cases(root):
        if ids and case.id not in ids:
            continue
        data = symbols(case)
        out = case.folder / "symbols.json"
        out.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        files = data["files"]
        assert isinstance(files, dict)
        print(f"{case.id}: {len(files)} files, {sum(len(v) for v in files.values())} definitions")


if __name__ == "__main__":
    main(sys.argv[1:])
