"""decide(): table-driven — each case names the rule that must say no (or none for a PR)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from error_autopilot.config.service_map import AutoFixPolicy, Environment, LokiConfig
from error_autopilot.decisions.policy import builtin_denial, decide
from error_autopilot.domain.findings import AgentAnalysis, Finding, PatchVerdict
from error_autopilot.domain.incidents import Incident, IncidentStatus, PlannedIncident


def _patch(path: str = "src/orders/handler.py", lines: int = 2) -> str:
    body = "".join(f"+added {i}\n" for i in range(lines))
    return f"--- a/{path}\n+++ b/{path}\n@@ -1,1 +1,{lines + 1} @@\n ctx\n{body}"


def _planned(status: IncidentStatus = "new") -> PlannedIncident:
    now = datetime(2024, 6, 1, tzinfo=UTC)
    incident = Incident(fingerprint="0123456789abcdef", service="orders", environment="dev", title="KeyError: 'id'",
                        count=3, first_seen=now, last_seen=now)  # fmt: skip
    return PlannedIncident(incident=incident, status=status)


def _env(auto_fix: bool = True) -> Environment:
    return Environment(loki=LokiConfig(url="http://loki:3100", selector='{env="dev"}'), auto_fix=auto_fix)


def _analysis(**kw: Any) -> AgentAnalysis:
    base: dict[str, Any] = {"root_cause": "order without id", "citations": ("log:abc",), "confidence": 0.9,
                            "fix_kind": "null-check", "patch": _patch()}  # fmt: skip
    return AgentAnalysis(**{**base, **kw})


def _check(patch: str | None = None, **kw: Any) -> PatchVerdict:
    files = tuple(f.removeprefix("+++ b/") for f in (patch or _patch()).splitlines() if f.startswith("+++ b/"))
    base: dict[str, Any] = {"applies": True, "files": files, "changed_lines": 2, "test_passed": True}
    return PatchVerdict(**{**base, **kw})


FINDING = Finding(fingerprint="0123456789abcdef", symptom_service="orders", culprit_service="orders")
BIG = _patch(lines=500)
CI = _patch(".github/workflows/ci.yml")

# name: (overrides for decide's inputs, the rule that refuses — None when a PR is allowed)
CASES: dict[str, tuple[dict[str, Any], str | None]] = {
    "all rules pass": ({}, None),
    "no test_command configured": ({"check": _check(test_passed=None)}, None),
    "environment without auto_fix": ({"env": _env(auto_fix=False)}, "environment allows auto-fix"),
    "unknown environment": ({"env": None}, "environment allows auto-fix"),
    "no finding": ({"finding": None}, "finding available"),
    "no analysis": ({"analysis": None}, "analysis available"),
    "fix kind other": ({"analysis": _analysis(fix_kind="other")}, "fix kind allowed"),
    "fix kind none": ({"analysis": _analysis(fix_kind=None, patch=None)}, "fix kind allowed"),
    "low confidence": ({"analysis": _analysis(confidence=0.5)}, "min_confidence"),
    "no patch": ({"analysis": _analysis(patch=None)}, "patch proposed"),
    "patch not checked": ({"check": None}, "patch checked"),
    "does not apply": ({"check": _check(applies=False, problems=("git apply --check failed",))},
                       "patch applies cleanly"),
    "tests fail": ({"check": _check(test_passed=False, problems=("tests failed (exit 1)",))}, "tests pass"),
    "too many files": ({"analysis": _analysis(patch=_patch("a.py") + _patch("b.py"))}, "max_files"),
    "500-line patch": ({"analysis": _analysis(patch=BIG), "check": _check(BIG, changed_lines=500)},
                       "max_changed_lines"),
    "check under-reports lines": ({"analysis": _analysis(patch=BIG), "check": _check(BIG, changed_lines=1)},
                                  "max_changed_lines"),
    "user deny_paths": ({"analysis": _analysis(patch=_patch("src/auth/login.py"))}, "deny_paths"),
    "workflow file": ({"analysis": _analysis(patch=CI), "check": _check(CI)}, "built-in deny list"),
    "dotdot path": ({"analysis": _analysis(patch=_patch("../../etc/passwd"))},
                    "patch is well-formed and inside the repository"),
    "binary check": ({"check": _check(binary=True)}, "patch is well-formed and inside the repository"),
    "symlink escape": ({"check": _check(inside_repo=False)}, "patch is well-formed and inside the repository"),
    "PR quota used": ({"prs": 3}, "max_prs_per_run"),
}  # fmt: skip


def _decide(overrides: dict[str, Any]) -> Any:
    return decide(
        _planned(), overrides.get("finding", FINDING), overrides.get("analysis", _analysis()),
        overrides.get("check", _check()), environment=overrides.get("env", _env()),
        policy=AutoFixPolicy(deny_paths=(".github/**", "**/auth/**")), prs_this_run=overrides.get("prs", 0),
    )  # fmt: skip


@pytest.mark.parametrize("name", list(CASES))
def test_policy_table(name: str) -> None:
    overrides, refusing_rule = CASES[name]
    decision = _decide(overrides)
    refused = {r.rule for r in decision.refused_by}
    if refusing_rule is None:
        assert decision.action == "issue_and_pr", decision.refused_by
        assert not refused
    else:
        assert decision.action == "issue"
        assert refusing_rule in refused, decision.refused_by
    assert all(r.detail for r in decision.reasons)


def test_every_rule_is_reported_when_a_pr_is_allowed() -> None:
    rules = [r.rule for r in _decide({}).reasons]
    assert rules == ["not muted", "environment allows auto-fix", "finding available", "analysis available",
                     "fix kind allowed", "min_confidence", "patch proposed",
                     "patch is well-formed and inside the repository", "max_files", "max_changed_lines",
                     "deny_paths", "built-in deny list", "patch applies cleanly", "tests pass",
                     "max_prs_per_run"]  # fmt: skip


def test_muted_incident_is_skipped() -> None:
    decision = decide(_planned("muted"), FINDING, _analysis(), _check(), environment=_env(), policy=AutoFixPolicy(),
                      prs_this_run=0)  # fmt: skip
    assert decision.action == "skip"
    assert [r.rule for r in decision.refused_by] == ["not muted"]


def test_refusal_detail_names_the_offending_file() -> None:
    decision = _decide({"analysis": _analysis(patch=CI), "check": _check(CI)})
    (builtin,) = [r for r in decision.refused_by if r.rule == "built-in deny list"]
    assert builtin.detail == ".github/workflows/ci.yml matches .github/**"


@pytest.mark.parametrize(
    "path",
    [".github/workflows/ci.yml", ".gitlab-ci.yml", "Jenkinsfile", "ci/Jenkinsfile", ".circleci/config.yml", "pom.xml",
     "svc/build.gradle.kts", "package.json", "web/yarn.lock", "poetry.lock", "requirements-dev.txt", "pyproject.toml",
     "go.mod", "go.sum", "Dockerfile", "deploy/Dockerfile.prod", "Makefile", "src/main/kotlin/AuthService.kt",
     "app/security/filter.py", "lib/crypto/aes.go", "db/migrations/0001_init.py", "src/main/resources/db/V1__init.sql",
     "PACKAGE.JSON"],
)  # fmt: skip
def test_builtin_deny_list(path: str) -> None:
    assert builtin_denial(path) is not None


@pytest.mark.parametrize(
    "path", ["src/orders/handler.py", "src/main/kotlin/com/acme/user/UserService.kt", "cmd/api/main.go"]
)
def test_ordinary_code_is_not_denied(path: str) -> None:
    assert builtin_denial(path) is None
