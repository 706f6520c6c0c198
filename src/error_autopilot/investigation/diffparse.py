"""A strict reader of unified diffs, in pure code: which files a patch touches and how many lines.

Patches come from a model that read hostile logs, so anything unusual is a *problem* to report,
never something to interpret generously: absolute or `..` paths, `.git/`, quoted names, symlink or
submodule modes, binary hunks. `patchcheck.py` and `decisions/policy.py` both read patches through here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

MAX_PATCH_CHARS = 200_000
_HUNK = re.compile(r"^@@ -\d+(?:,(\d+))? \+\d+(?:,(\d+))? @@")
_DRIVE = re.compile(r"^[A-Za-z]:")
_GIT_HEADER = re.compile(r"^diff --git a/(\S+) b/(\S+)$")
_HIDDEN_CHARS = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")  # Trojan Source
_FORBIDDEN_MODES = {"120000": "symlink", "160000": "submodule"}


@dataclass
class ParsedDiff:
    """What a unified diff says it does."""

    files: list[str] = field(default_factory=list)  # repository-relative posix paths, in order
    added: int = 0
    removed: int = 0
    binary: bool = False
    unsafe_paths: bool = False  # some path is absolute, escapes with `..`, enters .git/ or is quoted
    problems: list[str] = field(default_factory=list)

    @property
    def changed_lines(self) -> int:
        """Added plus removed lines."""
        return self.added + self.removed


def path_problem(path: str) -> str | None:
    """Why `path` is not a safe repository-relative path, or None when it is."""
    if not path or path.strip() != path:
        return f"empty or padded path {path!r}"
    if any(ord(c) < 32 or c == "\x7f" for c in path) or "\\" in path:
        return f"control character or backslash in path {path!r}"
    if path.startswith(("/", "~")) or _DRIVE.match(path):
        return f"absolute path {path!r}"
    parts = path.split("/")
    if ".." in parts:
        return f"path escapes the repository: {path!r}"
    if any(p.lower() == ".git" for p in parts):
        return f"path inside .git: {path!r}"
    if any(p in ("", ".") for p in parts):
        return f"unnormalised path {path!r}"
    return None


def _strip_side(raw: str, prefix: str) -> str | None:
    """`a/x/y.py` → `x/y.py`; `/dev/null` → None. Keeps the text after a tab (timestamps) out."""
    name = raw.split("\t", 1)[0]
    if name == "/dev/null":
        return None
    return name[len(prefix) :] if name.startswith(prefix) else name


def _add_path(parsed: ParsedDiff, path: str | None) -> None:
    if path is None:
        return
    if path.startswith('"'):
        parsed.problems.append(f"quoted (escaped) path not accepted: {path!r}")
        parsed.unsafe_paths = True
        return
    problem = path_problem(path)
    if problem:
        parsed.problems.append(problem)
        parsed.unsafe_paths = True
    if path not in parsed.files:
        parsed.files.append(path)


def _header_line(parsed: ParsedDiff, line: str) -> None:
    git_header = _GIT_HEADER.match(line)
    if git_header:
        _add_path(parsed, git_header.group(1))
        _add_path(parsed, git_header.group(2))
    elif line.startswith("GIT binary patch") or (line.startswith("Binary files ") and line.endswith(" differ")):
        parsed.binary = True
        parsed.problems.append("binary patch")
    elif line.startswith("--- "):
        _add_path(parsed, _strip_side(line[4:], "a/"))
    elif line.startswith("+++ "):
        _add_path(parsed, _strip_side(line[4:], "b/"))
    elif line.startswith(("rename from ", "copy from ", "rename to ", "copy to ")):
        _add_path(parsed, line.split(" ", 2)[2])
    elif line.startswith(("new file mode ", "new mode ", "old mode ", "deleted file mode ")):
        mode = line.rsplit(" ", 1)[-1]
        if mode in _FORBIDDEN_MODES:
            parsed.problems.append(f"{_FORBIDDEN_MODES[mode]} change ({line})")
        elif line.startswith("new mode "):
            parsed.problems.append(f"file mode change ({line})")


def parse_unified_diff(diff: str) -> ParsedDiff:
    """Files, changed-line counts, binary flag and every safety problem of a unified diff."""
    parsed = ParsedDiff()
    if len(diff) > MAX_PATCH_CHARS:
        parsed.problems.append(f"patch is {len(diff)} characters (limit {MAX_PATCH_CHARS})")
        return parsed
    if _HIDDEN_CHARS.search(diff):
        parsed.problems.append("invisible or bidirectional control characters in patch")
    if "\x00" in diff:
        parsed.binary = True
        parsed.problems.append("NUL byte in patch")
        return parsed
    old_left = new_left = 0
    hunks = 0
    for line in diff.splitlines():
        if old_left > 0 or new_left > 0:
            if line.startswith("\\"):
                continue
            tag = line[:1]
            if tag == "+":
                parsed.added += 1
                new_left -= 1
            elif tag == "-":
                parsed.removed += 1
                old_left -= 1
            elif tag in (" ", ""):
                old_left -= 1
                new_left -= 1
            else:
                parsed.problems.append(f"hunk ended early at {line[:60]!r}")
                old_left = new_left = 0
            continue
        match = _HUNK.match(line)
        if match:
            hunks += 1
            old_left = int(match.group(1) or 1)
            new_left = int(match.group(2) or 1)
        elif not line.startswith("\\"):
            _header_line(parsed, line)
    if old_left > 0 or new_left > 0:
        parsed.problems.append("last hunk is shorter than its header says")
    if not parsed.files:
        parsed.problems.append("no file headers (---/+++) found")
    elif hunks == 0 and not parsed.binary:
        parsed.problems.append("no hunks found")
    return parsed
