"""Each issue shape, reviewed like code: regenerate with UPDATE_SNAPSHOTS=1 and read the diff.

`docs/example-issue.md` is one of them (the culprit-in-another-service shape), so the documentation
shows exactly what the renderer writes and cannot drift from it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from error_autopilot.ports import RenderedIssue
from tests.support.render_cases import CASES, Case, culprit_elsewhere

ROOT = Path(__file__).resolve().parents[2]
SNAPSHOTS = ROOT / "tests" / "fixtures" / "render"
EXAMPLE = ROOT / "docs" / "example-issue.md"
EXAMPLE_HEAD = ("<!-- Generated from the renderer by tests/unit/test_render_snapshot.py (UPDATE_SNAPSHOTS=1 "
                "rewrites it): order-service logged the error, user-service threw it. -->\n\n")  # fmt: skip


def _text(issue: RenderedIssue) -> str:
    return f"# {issue.title}\n\nlabels: {', '.join(issue.labels)}\n\n{issue.body}\n"


def _check(path: Path, text: str) -> None:
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        path.write_text(text, encoding="utf-8")
    assert path.read_text(encoding="utf-8") == text, f"{path.name} changed: rerun with UPDATE_SNAPSHOTS=1, review"


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_each_issue_shape_matches_its_reviewed_snapshot(case: Case) -> None:
    _check(SNAPSHOTS / f"{case.name}.md", _text(case.build()))


def test_the_documented_example_is_what_the_renderer_writes() -> None:
    _check(EXAMPLE, EXAMPLE_HEAD + _text(culprit_elsewhere()))
