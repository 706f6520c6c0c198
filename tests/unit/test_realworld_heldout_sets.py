"""The held-out real-world sets (`tests/fixtures/realworld-holdout*/`) keep the corpus format and stay
apart from it: what `python -m benchmarks.corpus` reports for them only means something if every case
is complete, its truth is in its own tree, and no repository of theirs is one the rules were tuned on.
Data checks only; the engine never runs here. A set once read is retired into the corpus, so there may
be none at a given time: then there is nothing to check."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.support.corpus import CORPUS, ECOSYSTEMS, load_cases

HELD_OUT = sorted(CORPUS.parent.glob("realworld-holdout*/"))
CASE_FILES = ("case.json", "trace.txt", "files.txt", "symbols.json")
SHA = re.compile(r"[0-9a-f]{40}")
MIN_PER_ECOSYSTEM = 4
BARE_NAME = re.compile(r"[A-Za-z_$][\w$]*")
LANGUAGES = {"python": {"python"}, "jvm": {"java", "kotlin", "scala"}, "go": {"go"},
             "node": {"javascript", "typescript"}, "dotnet": {"csharp", "fsharp"}}  # fmt: skip
# The shape vocabulary of the corpus format: a tag outside it cannot be counted in a set's index.
SHAPES = frozenset({
    "log-line-before-header", "line-prefixes", "site-packages", "dist-packages", "node_modules", "go-module-cache",
    "gopath", "vendor", "absolute-foreign-paths", "windows-paths", "multi-module", "kotlin-facade", "inner-class",
    "lambda", "coroutine", "async", "localised", "inner-exception", "caused-by-chain", "exception-group",
    "frames-only", "no-header", "top-cut", "n-more", "recovered-repanic", "goroutine-dump", "compiled-js",
    "source-mapped", "no-file-or-line", "fix-up-the-stack", "plain",
})  # fmt: skip


def _repos(root: Path) -> set[str]:
    return {str(c.data["repo"]).lower() for c in load_cases(root)}


@pytest.mark.parametrize("root", HELD_OUT, ids=lambda p: p.name)
def test_every_held_out_case_is_complete(root: Path) -> None:
    folders = sorted(p for p in root.glob("*/*") if p.is_dir())
    assert folders, f"{root.name} holds no case"
    for folder in folders:
        missing = [name for name in CASE_FILES if not (folder / name).is_file()]
        assert not missing, f"{folder.name} lacks {missing}"
        data = json.loads((folder / "case.json").read_text(encoding="utf-8"))
        assert folder.parent.name in ECOSYSTEMS and data["ecosystem"] == folder.parent.name, folder.name
        assert data["id"] == folder.name, folder.name
        assert SHA.fullmatch(data["fix_commit"]) and SHA.fullmatch(data["parent_commit"]), folder.name
        assert data["issue_url"].startswith("https://github.com/"), folder.name
        assert data["fix_url"].startswith("https://github.com/"), folder.name
        assert (folder / "trace.txt").read_text(encoding="utf-8").strip(), folder.name


@pytest.mark.parametrize("root", HELD_OUT, ids=lambda p: p.name)
def test_held_out_truth_is_in_its_tree(root: Path) -> None:
    for case in load_cases(root):
        listed = case.files
        assert listed == sorted(set(listed)), f"{case.id}: files.txt not sorted and unique"
        if case.expect_no_location:
            continue
        assert case.truth_files and case.truth_files <= set(listed), case.id
        assert case.truth_functions, case.id
        assert set(case.symbols) <= set(listed), f"{case.id}: symbols for a file not in its tree"


@pytest.mark.parametrize("root", HELD_OUT, ids=lambda p: p.name)
def test_held_out_sets_cover_every_ecosystem_once_per_repository(root: Path) -> None:
    # A set skewed to one ecosystem or to one repository's habits says little about traces in general.
    cases = load_cases(root)
    repos = [str(c.data["repo"]).lower() for c in cases]
    assert len(repos) == len(set(repos)), f"{root.name} has two cases from one repository"
    per_ecosystem = {eco: sum(c.ecosystem == eco for c in cases) for eco in ECOSYSTEMS}
    assert min(per_ecosystem.values()) >= MIN_PER_ECOSYSTEM, f"{root.name}: {per_ecosystem}"


@pytest.mark.parametrize("root", HELD_OUT, ids=lambda p: p.name)
def test_held_out_repositories_were_never_tuned_on(root: Path) -> None:
    shared = _repos(root) & _repos(CORPUS)
    assert not shared, f"{root.name} shares repositories with the tuning corpus: {sorted(shared)}"
    for other in HELD_OUT:
        if other != root:
            assert not _repos(root) & _repos(other), f"{root.name} and {other.name} share repositories"


@pytest.mark.parametrize("root", HELD_OUT, ids=lambda p: p.name)
def test_held_out_case_names_its_own_issue_and_fix(root: Path) -> None:
    # A case whose id, issue or fix points at another repository would slip past the one-per-repository
    # and never-tuned-on checks, which compare `repo` only.
    for case in load_cases(root):
        repo = str(case.data["repo"])
        prefix = f"https://github.com/{repo.lower()}/"
        assert str(case.data["issue_url"]).lower().startswith(prefix), case.id
        assert str(case.data["fix_url"]).lower().startswith(prefix), case.id
        number = str(case.data["issue_url"]).rstrip("/").rsplit("/", 1)[-1]
        assert case.id == f"{repo.replace('/', '-')}-{number}".lower(), case.id


@pytest.mark.parametrize("root", HELD_OUT, ids=lambda p: p.name)
def test_held_out_case_uses_the_format_vocabulary(root: Path) -> None:
    for case in load_cases(root):
        assert case.data["language"] in LANGUAGES[case.ecosystem], case.id
        shapes = case.data["shapes"]
        assert shapes and set(shapes) <= SHAPES, f"{case.id}: {sorted(set(shapes) - SHAPES)}"
        service = case.data["service"]
        assert isinstance(service["packages"], list) and isinstance(service["source_roots"], list), case.id
        assert all(BARE_NAME.fullmatch(name) for name in case.data["truth"]["functions"]), case.id
        assert all(not path.startswith("/") and "\\" not in path for path in case.truth_files), case.id


@pytest.mark.parametrize("root", HELD_OUT, ids=lambda p: p.name)
def test_held_out_trace_is_the_paste_without_markdown(root: Path) -> None:
    # Fences and CRLF are artefacts of copying from the issue page, not of what production writes.
    for case in load_cases(root):
        raw = (case.folder / "trace.txt").read_bytes()
        assert b"```" not in raw and b"\r" not in raw, case.id
        assert raw.endswith(b"\n"), case.id
