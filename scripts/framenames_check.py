"""How often the product's "which function holds line N" finder (`enclosing_function`) agrees with the
corpus's definition index (`symbols.json`) on the real files of every case: each function or method
the index lists whose body it could bound is asked from its first body line (the first line after the
declaration indented deeper than it) in the file at the case's `parent_commit`.

The corpus run cannot show this: its repositories hold skeletons whose definitions are written in one
canonical form per language. Reads the bare mirrors under `/work/.mirror/<Owner>+<repo>/repo` like
`scripts/corpus_symbols.py`. `--against REV` also scores the finder as it was at git revision REV and
lists the definitions the two name differently. Usage:

    PYTHONPATH=. .venv/bin/python scripts/framenames_check.py [--against integration]
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

from tests.support.corpus import CORPUS

from error_autopilot.domain.stack import Language
from error_autopilot.investigation import framenames

MIRRORS = Path("/work/.mirror")
MODULE = "src/error_autopilot/investigation/framenames.py"
LANGUAGES: dict[str, Language] = {"py": "python", "go": "go", "java": "jvm", "kt": "jvm", "kts": "jvm", "scala": "jvm",
                                  "groovy": "jvm", "cs": "dotnet", "js": "node", "jsx": "node", "ts": "node",
                                  "tsx": "node", "mjs": "node", "cjs": "node"}  # fmt: skip
Finder = Callable[[Sequence[str], int | None, Language], str | None]


def _finder_at(rev: str) -> Finder:
    """`enclosing_function` as it was at git revision `rev` of this checkout."""
    source = subprocess.run(["git", "show", f"{rev}:{MODULE}"], capture_output=True, check=True).stdout
    path = Path(tempfile.mkdtemp()) / "framenames_then.py"
    path.write_bytes(source)
    spec = importlib.util.spec_from_file_location("framenames_then", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    finder: Finder = module.enclosing_function
    return finder


def _body_line(lines: list[str], start: int, end: int) -> int | None:
    """The first line after the declaration on `start` indented deeper than it (1-based)."""
    column = len(lines[start - 1]) - len(lines[start - 1].lstrip())
    for n in range(start + 1, min(end, len(lines) + 1)):
        text = lines[n - 1]
        if text.strip() and len(text) - len(text.lstrip()) > column:
            return n
    return None


def main(args: list[str]) -> None:
    """Print agreement per language, now and (with `--against REV`) then, and where the two differ."""
    finders: dict[str, Finder] = {"now": framenames.enclosing_function}
    if args[:1] == ["--against"]:
        finders = {args[1]: _finder_at(args[1]), **finders}
    right: dict[str, Counter[str]] = {name: Counter() for name in finders}
    asked: Counter[str] = Counter()
    changed: list[str] = []
    for symbols_file in sorted(CORPUS.glob("*/*/symbols.json")):
        case = json.loads((symbols_file.parent / "case.json").read_text())
        data = json.loads(symbols_file.read_text())
        gitdir = MIRRORS / case["repo"].replace("/", "+", 1) / "repo"
        gitdir = gitdir / ".git" if (gitdir / ".git").is_dir() else gitdir
        for path, definitions in data["files"].items():
            language = LANGUAGES.get(path.rsplit(".", 1)[-1])
            shown = subprocess.run(["git", "--git-dir", str(gitdir), "show", f"{data['commit']}:{path}"],
                                   capture_output=True, check=False)  # fmt: skip
            if language is None or shown.returncode:
                continue
            lines = shown.stdout.decode("utf-8", errors="replace").splitlines()
            for d in definitions:
                if d["kind"] not in ("function", "method") or not d.get("end"):
                    continue
                if (line := _body_line(lines, int(d["line"]), int(d["end"]))) is None:
                    continue
                asked[language] += 1
                named = {name: finder(lines, line, language) for name, finder in finders.items()}
                for name, got in named.items():
                    right[name][language] += got == d["name"]
                if len(set(named.values())) > 1:
                    changed.append(f"{case['id']} {path}:{d['line']} {d['name']}: {named}")
    for lang in sorted(asked):
        scores = "  ".join(f"{n} {right[n][lang]} ({right[n][lang] / asked[lang]:.1%})" for n in finders)
        print(f"{lang:7} {asked[lang]:5} definitions  {scores}")
    total = sum(asked.values())
    print(f"{'all':7} {total:5} definitions  " + "  ".join(f"{n} {right[n].total()} ({right[n].total() / total:.1%})"
                                                            for n in finders))  # fmt: skip
    for difference in changed:
        print(difference)


if __name__ == "__main__":
    main(sys.argv[1:])
