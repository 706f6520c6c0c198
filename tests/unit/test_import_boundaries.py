"""The layering rules of DESIGN.md, enforced: each SDK lives in its adapter, pure code imports none."""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[2] / "src" / "error_autopilot"

# SDK → the only modules (path prefixes, relative to the package) allowed to import it.
SDK_HOMES: dict[str, tuple[str, ...]] = {
    "httpx": ("sources/", "sinks/telegram.py", "bridge/", "app.py", "preflight.py", "demo/"),
    "github": ("sinks/github_issues.py", "sinks/github_prs.py", "app.py"),
    "git": ("investigation/checkout.py", "investigation/clonecache/", "investigation/blame.py", "state/store.py",
            "sinks/github_prs.py"),
    "anthropic": ("investigation/agent.py", "app.py"),
    "actions_toolkit": ("actions_io.py",),
    "msgspec": ("sources/loki.py",),
}
PURE = ("domain/", "incidents/", "decisions/", "sinks/render.py", "state/model.py", "investigation/sanitize.py",
        "investigation/stackmap.py", "investigation/runnerup.py", "investigation/pathmap.py",
        "investigation/contentsearch.py", "investigation/framenames.py", "pipeline.py", "overlap.py",
        "redaction/")  # fmt: skip


def _modules() -> list[Path]:
    files = sorted(PKG.rglob("*.py"))
    assert len(files) > 20, "expected to find the package's modules"
    return files


@functools.cache  # every test reads every module: each is parsed once per session
def _imports(path: Path) -> frozenset[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return frozenset(names)


def _rel(path: Path) -> str:
    return path.relative_to(PKG).as_posix()


@pytest.mark.parametrize("sdk", sorted(SDK_HOMES))
def test_each_sdk_is_imported_only_by_its_adapter(sdk: str) -> None:
    offenders = [
        _rel(p) for p in _modules()
        if any(n == sdk or n.startswith(sdk + ".") for n in _imports(p))
        and not _rel(p).startswith(SDK_HOMES[sdk])
    ]  # fmt: skip
    assert not offenders, f"{sdk} imported outside its adapter: {offenders}"


def test_domain_imports_nothing_of_ours_but_domain() -> None:
    for path in _modules():
        if not _rel(path).startswith("domain/"):
            continue
        ours = {n for n in _imports(path) if n.startswith("error_autopilot")}
        assert all(n.startswith("error_autopilot.domain") for n in ours), f"{_rel(path)} imports {ours}"


def test_pure_modules_import_no_sdk_and_do_no_io() -> None:
    sdks = (*SDK_HOMES, "subprocess", "socket", "requests")
    checked = 0
    for path in _modules():
        if not _rel(path).startswith(PURE):
            continue
        checked += 1
        bad = {n for n in _imports(path) if n.split(".")[0] in sdks}
        assert not bad, f"pure module {_rel(path)} imports {bad}"
    assert checked >= 10
