"""docs/ARCHITECTURE.md names every module of the package once: a module added, moved or removed without the
page saying where its job lives fails here, so the map contributors read is the tree they work in."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PKG = ROOT / "src" / "error_autopilot"
DOC = ROOT / "docs" / "ARCHITECTURE.md"
# a table row's first cell: `module/path.py`
_ROW = re.compile(r"^\| `([\w/]+\.py)` \|", re.M)


def _modules() -> set[str]:
    """Every module of the package but the demo's bundled sample repositories (data, not our code)."""
    found = {p.relative_to(PKG).as_posix() for p in PKG.rglob("*.py")}
    return {m for m in found if not m.startswith("demo/data/") and not m.endswith("/__init__.py")}


def test_every_module_has_one_row_and_every_row_a_module() -> None:
    rows = Counter(_ROW.findall(DOC.read_text(encoding="utf-8")))
    modules = _modules()
    assert len(modules) > 100, "did not find the package's modules"
    assert not modules - set(rows), f"modules without a row in {DOC.name}: {sorted(modules - set(rows))}"
    assert not set(rows) - modules, f"rows naming no module: {sorted(set(rows) - modules)}"
    assert not [m for m, n in rows.items() if n > 1], "a module named in two rows"
