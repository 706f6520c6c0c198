"""One incident's whole life through the real pipeline: loopback Loki and GitHub, a real git service
repository with version tags, a fixed clock. Filed → closed by its fix commit → still logged by the
old version (no false regression) → fixed version deployed → quiet period → verified once → the
error comes back from the fixed version → reopened as regressed, naming the fix. Beside it, a second
incident first seen in v2 names the v1..v2 commit touching its frames, is muted when closed as not
planned and tracked again when a person reopens it; labels are created in the first run only."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from error_autopilot import app, commands
from error_autopilot.config.settings import Settings
from error_autopilot.demo.httpserver import LoopbackServer
from error_autopilot.demo.loki_server import LokiServer
from error_autopilot.domain.report import RunReport
from error_autopilot.resilience import Breakers, Deadline
from tests.support.fakes.github import FakeGitHub
from tests.support.world import git

pytestmark = pytest.mark.slow

T0 = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
REPO = "acme/orders"
APP_PY = 'RATES = {"EUR": 1}\n\n\ndef total(order):\n    return order["amount"] * RATES[order["currency"]]\n'
PAY_PY = "def split(amount, people):\n    return amount\n"


@dataclass
class Clock:
    """The fixed clock the whole run reads."""

    at: datetime

    def now(self) -> datetime:
        return self.at


@dataclass
class Repo:
    """The service's bare remote and the commits the test names."""

    remote: Path
    introducing: str  # v1..v2, touches orders/pay.py (the second incident's frame)
    docs: str  # v1..v2, touches only README.md
    fix: str  # v2..v3, fixes the first incident


def _commit(work: Path, files: dict[str, str], message: str) -> str:
    for name, text in files.items():
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        (work / name).write_text(text)
    git(work, "add", "-A")
    git(work, "-c", "user.name=dev", "-c", "user.email=dev@example.com", "commit", "-qm", message)
    return git(work, "rev-parse", "HEAD")


def _service_repo(root: Path) -> Repo:
    work, remote = root / "orders-work", root / "remotes" / "acme" / "orders.git"
    git(root, "init", "-q", "-b", "main", str(work))
    _commit(work, {"orders/app.py": APP_PY, "orders/pay.py": PAY_PY}, "orders service")
    git(work, "tag", "v1")
    introducing = _commit(work, {"orders/pay.py": PAY_PY.replace("return amount", "return amount / people")},
                          "pay: split the bill evenly")  # fmt: skip
    docs = _commit(work, {"README.md": "orders\n"}, "docs: readme")
    git(work, "tag", "v2")
    fix = _commit(work, {"orders/app.py": APP_PY.replace('order["currency"]', 'order.get("currency", "EUR")')},
                  "app: default currency (fixes #1)")  # fmt: skip
    git(work, "tag", "v3")
    remote.parent.mkdir(parents=True)
    git(root, "clone", "-q", "--bare", str(work), str(remote))
    return Repo(remote, introducing, docs, fix)


def _traceback(kind: str) -> str:
    if kind == "currency":
        return ('Traceback (most recent call last):\n  File "/app/orders/app.py", line 5, in total\n'
                '    return order["amount"] * RATES[order["currency"]]\nKeyError: \'currency\'')  # fmt: skip
    return ('Traceback (most recent call last):\n  File "/app/orders/pay.py", line 2, in split\n'
            "    return amount / people\nZeroDivisionError: division by zero")  # fmt: skip


class World:
    """Loki, GitHub, the state remote and the service repo; `run` is one scheduled run at `at`."""

    def __init__(self, root: Path, loki: LoopbackServer, gh: FakeGitHub, repo: Repo) -> None:
        self.root, self.loki, self.gh, self.repo = root, loki, gh, repo
        self.state_remote = root / "ops.git"
        git(root, "init", "-q", "--bare", str(self.state_remote))
        self.config = root / "service-map.json"
        self.config.write_text(json.dumps({
            "environments": {"prod": {"loki": {"url": loki.url, "selector": '{deployment_environment="prod"}'},
                                      "initial_lookback_s": 7200}},
            "services": {"orders": {"repo": REPO, "packages": ["orders"], "tag_pattern": "v{version}"}},
            "github_url": f"file://{root / 'remotes'}",
            "lifecycle": {"digest_every_days": 1},
        }))  # fmt: skip
        self.lines = 0

    def log(self, kind: str, version: str, at: datetime, n: int = 1) -> None:
        """`n` error lines of one kind from one deployed version."""
        for i in range(n):
            self.lines += 1
            line = json.dumps({"levelname": "ERROR", "message": f"request {self.lines} failed",
                               "exc_info": _traceback(kind), "service.version": version})  # fmt: skip
            ts = int((at + timedelta(seconds=i)).timestamp()) * 1_000_000_000
            self.loki.app.push({"service_name": "orders", "deployment_environment": "prod"}, ts, line)  # type: ignore[attr-defined]

    def run(self, at: datetime) -> RunReport:
        self.gh.now = lambda: at
        settings = Settings(
            config=self.config, github_token="ghs_test", github_api_url=self.gh.url, github_write_interval_s=0,
            github_server_url=f"file://{self.root / 'remotes'}", github_repository="acme/ops",
            work_dir=self.root / "work", cache_dir=self.root / "cache",
        )  # fmt: skip
        base = app.load_context(settings)
        ctx = app.Context(settings, base.smap, base.redactor, Clock(at), Breakers(), Deadline(600))  # type: ignore[arg-type]
        opts = commands.RunOptions(state_repo=str(self.state_remote), sink="github", trigger="schedule")
        return commands.execute_run(ctx, opts)

    def summary(self) -> str:
        return (self.root / "work" / "summary.md").read_text()

    def state(self) -> dict[str, Any]:
        text = git(self.root, "--git-dir", str(self.state_remote), "show", "error-autopilot-state:state.json")
        data: dict[str, Any] = json.loads(text)
        return data

    def record(self, kind: str) -> dict[str, Any]:
        word = "KeyError" if kind == "currency" else "ZeroDivisionError"
        return next(r for r in self.state()["incidents"].values() if word in r["title"])

    def issue(self, number: int) -> dict[str, Any]:
        return next(i for i in self.gh.issues[REPO] if i["number"] == number)

    def comments(self, number: int) -> list[str]:
        return self.gh.comments.get((REPO, number), [])


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    repo = _service_repo(tmp_path)
    with LoopbackServer(LokiServer()) as loki, FakeGitHub({"acme/ops": None, REPO: repo.remote}) as gh:
        yield World(tmp_path, loki, gh, repo)


def test_an_incident_from_fix_to_verified_to_regressed(world: World) -> None:
    timeline: list[str] = []

    def note(at: datetime, what: str) -> None:
        timeline.append(f"{at - T0!s:>16}  {what}")

    # 1. filed: the error from version 1
    world.log("currency", "1", T0 - timedelta(minutes=30), n=3)
    world.run(T0)
    assert [i["number"] for i in world.gh.issues[REPO]] == [1]
    assert "### Digest: the last 1 day(s)" in world.summary(), "the first run carries the digest"
    first_run_label_posts = world.gh.label_posts
    assert first_run_label_posts > 0
    note(T0, f"filed #1 from version 1 (3 occurrences); {first_run_label_posts} label POSTs")

    # 2. a commit saying "fixes #1" closes it
    world.gh.close(REPO, 1, commit_id=world.repo.fix)
    note(T0 + timedelta(minutes=5), f"closed as completed by commit {world.repo.fix[:12]}")

    # 3. version 1 still runs and still logs it; version 2 brings a new error
    at = T0 + timedelta(hours=1)
    world.log("currency", "1", at - timedelta(minutes=40), n=2)
    world.log("split", "2", at - timedelta(minutes=30), n=2)
    report = world.run(at)
    assert "### Digest" not in world.summary(), "one digest a day"
    issue = world.issue(1)
    assert issue["state"] == "closed" and "regressed" not in issue["labels"], "an old version is no regression"
    assert "Still seen on `1` in `prod`" in world.comments(1)[-1]
    assert f"the fix `{world.repo.fix[:12]}` is not deployed there" in world.comments(1)[-1]
    record = world.record("currency")
    assert record["fix"]["commit"] == world.repo.fix and record["fix"]["in_versions"] == {"1": False, "2": False}
    assert [e.kind for e in report.lifecycle] == ["fixed"]
    assert world.gh.label_posts == first_run_label_posts, "labels are remembered in state"
    note(at, "still seen on version 1 (fix not in it): comment only, issue stays closed")

    # 4. introduced-in: the new error names v1..v2 commits touching its frame only
    body = world.issue(2)["body"]
    introduced = body.split("error-autopilot:introduced:start -->")[1].split("<!-- error-autopilot:introduced:end")[0]
    assert introduced.startswith("**First seen in** `2`, after `1`. Prime suspects")
    assert world.repo.introducing[:12] in introduced and world.repo.docs[:12] not in introduced

    # 5. not planned mutes the second incident: counted silently
    world.gh.close(REPO, 2, reason="not_planned")
    comments_on_2 = len(world.comments(2))
    at = T0 + timedelta(hours=2)
    world.log("split", "3", at - timedelta(minutes=30))  # version 3 (with the fix) is now deployed
    world.log("currency", "1", at - timedelta(minutes=25))  # version 1 still runs: said once already
    comments_on_1 = len(world.comments(1))
    report = world.run(at)
    assert len(world.comments(1)) == comments_on_1 and world.issue(1)["state"] == "closed"
    assert [e.kind for e in report.lifecycle] == ["muted"]
    assert world.issue(2)["state"] == "closed" and len(world.comments(2)) == comments_on_2
    assert world.record("split")["muted"] and world.record("split")["total_count"] == 3
    assert world.record("currency")["fix"]["in_versions"]["3"] is True
    note(at, "version 3 (contains the fix) first seen in prod")

    # 6. a day of version 3 without the error: verified, once
    at = T0 + timedelta(hours=2) + timedelta(hours=24, minutes=10)
    world.log("split", "3", at - timedelta(minutes=20))
    report = world.run(at)
    verified = [c for c in world.comments(1) if c.startswith("✅")]
    assert verified == [f"✅ **Verified fixed in `3` (`prod`)**: that version contains fix `{world.repo.fix[:12]}` "
                        "and has run 24 h without this error."]  # fmt: skip
    assert "verified" in world.issue(1)["labels"] and world.issue(1)["state"] == "closed"
    assert [e.detail for e in report.lifecycle if e.kind == "verified"] == ["verified fixed in 3 (prod)"]
    assert "### Since the last run" in world.summary() and "verified fixed in 3 (prod)" in world.summary()
    assert "**0 open** · 0 fixed · 1 verified · 0 regressed · 1 muted (4 occurrences" in world.summary()
    note(at, "verified fixed in version 3 (prod) after 24 h quiet: one comment, label `verified`")

    # 7. a person reopens the muted incident: tracked again; the verification is not repeated
    world.gh.reopen(REPO, 2)
    at += timedelta(hours=1)
    world.log("split", "3", at - timedelta(minutes=20))
    report = world.run(at)
    assert [e.kind for e in report.lifecycle] == ["reopened"]
    assert not world.record("split")["muted"]
    assert [i.issue_action for i in report.incidents] == ["updated"]
    assert len([c for c in world.comments(1) if c.startswith("✅")]) == 1

    # 8. the error comes back from version 3: a regression, with the evidence
    at += timedelta(hours=1)
    world.log("currency", "3", at - timedelta(minutes=20))
    report = world.run(at)
    issue = world.issue(1)
    assert issue["state"] == "open" and "regressed" in issue["labels"]
    assert world.comments(1)[-1].startswith(f"🔁 **Regressed**: fix `{world.repo.fix[:12]}` is in `3` and the error "
                                            "came back")  # fmt: skip
    regressed = next(i for i in report.incidents if i.issue_number == 1)
    assert regressed.status == "regressed" and regressed.issue_action == "reopened"
    assert world.record("currency")["fix"] is None and world.record("currency")["regressed_at"]
    assert world.gh.label_posts == first_run_label_posts
    note(at, f"seen from version 3: reopened #1 as regressed naming fix {world.repo.fix[:12]}")
    print("\n".join(["", "incident #1:", *timeline]))
