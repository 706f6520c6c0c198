"""A folder standing in for GitHub (demo, --dry-run, laptops): the same rendered issues and PRs,
as Markdown and .patch files, idempotent by fingerprint."""

from __future__ import annotations

import threading
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from error_autopilot.ports import IssueOutcome, ProposedChange, RenderedIssue
from error_autopilot.sinks.markers import merge_body, parse_marker
from error_autopilot.state.model import IssueRef, PrRef


class _Meta(BaseModel):
    model_config = ConfigDict(extra="forbid")

    number: int
    repo: str
    title: str
    state: str = "open"
    labels: list[str] = []
    comments: list[str] = []


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


class LocalIssueTracker:
    """ports.IssueTracker over `folder/issues/<fingerprint>.md` (+ .json metadata)."""

    def __init__(self, folder: Path) -> None:
        self._dir = folder / "issues"
        self._lock = threading.Lock()

    def _meta(self, fingerprint: str) -> _Meta | None:
        path = self._dir / f"{fingerprint}.json"
        return _Meta.model_validate_json(path.read_text(encoding="utf-8")) if path.exists() else None

    def _ref(self, fingerprint: str, meta: _Meta) -> IssueRef:
        url = (self._dir / f"{fingerprint}.md").resolve().as_uri()
        state = "closed" if meta.state == "closed" else "open"
        return IssueRef(repo=meta.repo, number=meta.number, url=url, state=state)

    def find(self, repo: str, fingerprint: str) -> IssueRef | None:
        """The draft with this fingerprint, if any."""
        meta = self._meta(fingerprint)
        return self._ref(fingerprint, meta) if meta else None

    def upsert(
        self, repo: str, issue: RenderedIssue, known: IssueRef | None, regressed: bool, comment: str | None
    ) -> IssueOutcome:
        """Create, update in place, or reopen the draft; one file per fingerprint, ever."""
        with self._lock:
            meta = self._meta(issue.fingerprint)
            md = self._dir / f"{issue.fingerprint}.md"
            old = md.read_text(encoding="utf-8") if meta and md.exists() else None
            body = merge_body(old, issue.body)  # a run without a finding keeps the evidence already there
            labels = sorted({*(meta.labels if meta else ()), *issue.labels})
            if meta is None:
                numbers = [_Meta.model_validate_json(p.read_text()).number for p in self._dir.glob("*.json")]
                meta, action = _Meta(number=max(numbers, default=0) + 1, repo=repo, title=issue.title), "created"
            elif meta.state == "closed":
                meta.state, action = "open", "reopened"
                labels = sorted({*labels, "regressed"})
                comment = comment or "🔁 Regression: this error is back after the issue was closed."
            else:
                same = old == body and meta.title == issue.title and meta.labels == labels
                action = "unchanged" if same else "updated"
            meta.title, meta.labels = issue.title, labels
            if comment:
                meta.comments.append(comment)
            _atomic_write(md, body)
            _atomic_write(self._dir / f"{issue.fingerprint}.json", meta.model_dump_json(indent=2))
            return IssueOutcome(self._ref(issue.fingerprint, meta), action)

    def close(self, fingerprint: str) -> None:
        """Close a draft (what a person does on GitHub when the bug is fixed)."""
        meta = self._meta(fingerprint)
        if meta is not None:
            meta.state = "closed"
            _atomic_write(self._dir / f"{fingerprint}.json", meta.model_dump_json(indent=2))

    def list_markers(self, repo: str) -> dict[str, IssueRef]:
        """Every draft's fingerprint, from the marker in its body."""
        found: dict[str, IssueRef] = {}
        for body in sorted(self._dir.glob("*.md")):
            fp = parse_marker(body.read_text(encoding="utf-8"))
            meta = self._meta(fp) if fp else None
            if fp and meta:
                found[fp] = self._ref(fp, meta)
        return found


class LocalChangeProposer:
    """ports.ChangeProposer writing `folder/prs/<fingerprint>.md` and `.patch`."""

    def __init__(self, folder: Path) -> None:
        self._dir = folder / "prs"

    def propose(self, change: ProposedChange) -> tuple[PrRef, str]:
        """Write (or rewrite) the draft PR for this fingerprint."""
        md, patch = self._dir / f"{change.fingerprint}.md", self._dir / f"{change.fingerprint}.patch"
        action = "updated" if md.exists() else "created"
        base = f"Base: `{change.base_branch}` at `{change.base_commit[:12]}`"
        _atomic_write(md, f"# {change.title}\n\n{base}\n\n{change.body}\n")
        _atomic_write(patch, change.patch)
        branch = f"error-autopilot/{change.fingerprint[:10]}"
        return PrRef(repo=change.repo, number=change.issue_number, url=md.resolve().as_uri(), branch=branch), action
