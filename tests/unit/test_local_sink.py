"""The local folder sink (demo, --dry-run): same idempotence as GitHub, files a person can read."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from error_autopilot.ports import ProposedChange
from error_autopilot.sinks.local import LocalChangeProposer, LocalIssueTracker
from error_autopilot.sinks.markers import parse_marker
from tests.unit.test_render import FP, finding, issue, planned

REPO = "acme/ops"


def _meta(folder: Path, fp: str = FP) -> dict[str, object]:
    data: dict[str, object] = json.loads((folder / "issues" / f"{fp}.json").read_text())
    return data


def test_the_same_incident_three_times_is_one_draft_updated(tmp_path: Path) -> None:
    tracker = LocalIssueTracker(tmp_path)
    actions = [tracker.upsert(REPO, issue(planned(count=n), finding()), None, False, None).action for n in (1, 2, 2)]
    assert actions == ["created", "updated", "unchanged"]
    assert sorted(p.name for p in (tmp_path / "issues").iterdir()) == [f"{FP}.json", f"{FP}.md"]
    body = (tmp_path / "issues" / f"{FP}.md").read_text()
    assert "| count (this run) | 2 |" in body and parse_marker(body) == FP
    meta = _meta(tmp_path)
    assert meta["number"] == 1 and meta["state"] == "open" and "null-dereference" in meta["labels"]  # type: ignore[operator]
    assert meta["title"] == issue(planned(), None).title


def test_numbers_are_sequential_and_markers_rebuild_the_registry(tmp_path: Path) -> None:
    tracker = LocalIssueTracker(tmp_path)
    refs = [tracker.upsert(REPO, issue(planned(fingerprint=fp), None), None, False, None).ref for fp in ("a" * 16,
            "b" * 16, "c" * 16)]  # fmt: skip
    assert [r.number for r in refs] == [1, 2, 3]
    assert tracker.list_markers(REPO) == {"a" * 16: refs[0], "b" * 16: refs[1], "c" * 16: refs[2]}
    assert tracker.find(REPO, "b" * 16) == refs[1] and tracker.find(REPO, "d" * 16) is None


def test_a_closed_draft_that_recurs_is_reopened_as_a_regression(tmp_path: Path) -> None:
    tracker = LocalIssueTracker(tmp_path)
    tracker.upsert(REPO, issue(planned(), finding()), None, False, None)
    tracker.close(FP)
    assert tracker.find(REPO, FP) is not None and tracker.find(REPO, FP).state == "closed"  # type: ignore[union-attr]
    outcome = tracker.upsert(REPO, issue(planned("regressed"), None), None, True, "🔁 back since 03:00")
    meta = _meta(tmp_path)
    assert outcome.action == "reopened" and meta["state"] == "open" and "regressed" in meta["labels"]  # type: ignore[operator]
    assert meta["comments"] == ["🔁 back since 03:00"]
    assert "### Where:" in (tmp_path / "issues" / f"{FP}.md").read_text(), "a run without a finding keeps evidence"


def test_draft_prs_are_written_beside_their_patch_and_rewritten_not_duplicated(tmp_path: Path) -> None:
    proposer = LocalChangeProposer(tmp_path)
    change = ProposedChange(repo="acme/svc", base_branch="main", base_commit="abc123", fingerprint=FP,
                            patch="diff --git a/x b/x\n", title="fix: x", body="Fixes #1", issue_number=1)  # fmt: skip
    first, action = proposer.propose(change)
    assert action == "created" and first.branch == f"error-autopilot/{FP[:10]}"
    second, action = proposer.propose(dataclasses.replace(change, title="fix: y"))
    assert action == "updated" and second == first
    assert sorted(p.name for p in (tmp_path / "prs").iterdir()) == [f"{FP}.md", f"{FP}.patch"]
    assert (tmp_path / "prs" / f"{FP}.md").read_text().startswith("# fix: y\n")
    assert (tmp_path / "prs" / f"{FP}.patch").read_text() == "diff --git a/x b/x\n"
