"""The auto-fix policy, enforced in code: when an incident gets an issue, and when also a draft PR.

Pure: incident + finding + analysis + patch check + configuration → Decision. Every rule is
evaluated and recorded (passed or not, with a human detail), so the issue can say which rule said
no. The patch's paths and size are re-read from the diff text itself, so a stale or forged check
cannot widen what a PR may touch.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

from error_autopilot.config.service_map import AutoFixPolicy, Environment
from error_autopilot.domain.decisions import Decision, RuleOutcome
from error_autopilot.domain.findings import AgentAnalysis, Finding, PatchVerdict
from error_autopilot.domain.incidents import PlannedIncident
from error_autopilot.investigation.diffparse import parse_unified_diff

# Paths no automated fix may touch, whatever the service map says: CI, build and dependency
# manifests, container and infrastructure files, repository metadata, migrations.
BUILTIN_DENY_GLOBS: tuple[str, ...] = (
    ".github/**", ".gitlab-ci.yml", ".gitlab/**", ".circleci/**", ".travis.yml", ".buildkite/**",
    "azure-pipelines.yml", "bitbucket-pipelines.yml", "**/Jenkinsfile", "**/Jenkinsfile.*", ".git*",
    "**/.gitattributes", "**/.gitmodules", "**/CODEOWNERS", "**/.env", "**/.env.*", "**/.npmrc", "**/.pypirc",
    "**/pom.xml", "**/build.gradle*", "**/settings.gradle*", "**/gradle.properties", "**/gradlew*",
    "**/gradle/wrapper/**", "**/mvnw*", "**/.mvn/**", "**/package.json", "**/package-lock.json", "**/yarn.lock",
    "**/pnpm-lock.yaml", "**/*.lock", "**/requirements*.txt", "**/constraints*.txt", "**/pyproject.toml",
    "**/setup.py", "**/setup.cfg", "**/Pipfile", "**/tox.ini", "**/noxfile.py", "**/go.mod", "**/go.sum",
    "**/Cargo.toml", "**/Gemfile", "**/*.gemspec", "**/composer.json", "**/*.csproj", "**/*.sln",
    "**/Directory.Build.*", "**/nuget.config", "**/Dockerfile", "**/Dockerfile.*", "**/*.dockerfile",
    "**/docker-compose*.y*ml", "**/Makefile", "**/*.mk", "**/CMakeLists.txt", "**/*.tf", "**/*.tfvars",
    "**/helm/**", "**/charts/**", "**/k8s/**", "**/kubernetes/**", "**/migrations/**", "**/migration/**",
    "**/db/migrate/**", "**/flyway/**", "**/liquibase/**", "**/alembic/**", "**/*.sql",
)  # fmt: skip

# Security-sensitive code is recognised by words in any path segment (AuthService.kt, crypto/, …).
_SENSITIVE_WORDS = re.compile(
    r"auth|secur|crypt|secret|passw|credential|login|permission|oauth|saml|oidc|jwt|keystore|"
    r"certificat|\btls\b|\bssl\b|\bacl\b|sanitiz|csrf|session",
    re.IGNORECASE,
)


@functools.lru_cache(maxsize=512)
def _glob_regex(glob: str) -> re.Pattern[str]:
    """`**/` any directories (or none), `**` anything, `*` and `?` within one segment."""
    out, i = [], 0
    while i < len(glob):
        if glob.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif glob.startswith("**", i):
            out.append(".*")
            i += 2
        elif glob[i] == "*":
            out.append("[^/]*")
            i += 1
        elif glob[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(glob[i]))
            i += 1
    return re.compile("".join(out) + r"\Z", re.IGNORECASE)


def matching_globs(path: str, globs: Iterable[str]) -> list[str]:
    """The globs that match a repository-relative path (case-insensitively: filesystems may be)."""
    return [g for g in globs if _glob_regex(g).match(path)]


def builtin_denial(path: str) -> str | None:
    """Why the built-in deny list refuses `path`, or None."""
    globs = matching_globs(path, BUILTIN_DENY_GLOBS)
    if globs:
        return f"{path} matches {globs[0]}"
    word = _SENSITIVE_WORDS.search(path)
    return f"{path} looks security-sensitive ({word.group(0)!r})" if word else None


def _rule(rule: str, passed: bool, detail: str) -> RuleOutcome:
    return RuleOutcome(rule=rule, passed=passed, detail=detail)


def _analysis_rules(analysis: AgentAnalysis | None, policy: AutoFixPolicy) -> list[RuleOutcome]:
    if analysis is None:
        return [_rule("analysis available", False, "no LLM analysis for this incident")]
    kind = analysis.fix_kind or "none"
    return [
        _rule("analysis available", True, f"analysis with {len(analysis.citations)} valid citation(s)"),
        _rule("fix kind allowed", kind in policy.kinds, f"fix kind {kind!r}; allowed: {', '.join(policy.kinds)}"),
        _rule(
            "min_confidence", analysis.confidence >= policy.min_confidence,
            f"confidence {analysis.confidence:.2f}, need ≥ {policy.min_confidence:.2f}",
        ),
        _rule("patch proposed", bool(analysis.patch and analysis.patch.strip()),
              "a unified diff was proposed" if analysis.patch else "the analysis proposed no patch"),
    ]  # fmt: skip


def _patch_rules(patch: str, check: PatchVerdict | None, policy: AutoFixPolicy) -> list[RuleOutcome]:
    parsed = parse_unified_diff(patch)
    files = list(dict.fromkeys([*parsed.files, *(check.files if check else ())]))
    changed = max(parsed.changed_lines, check.changed_lines if check else 0)
    user_denied = [f"{f} matches {matching_globs(f, policy.deny_paths)[0]}" for f in files
                   if matching_globs(f, policy.deny_paths)]  # fmt: skip
    built_in = [d for d in (builtin_denial(f) for f in files) if d]
    safe = not parsed.problems and (check is None or (check.inside_repo and not check.binary))
    rules = [
        _rule("patch is well-formed and inside the repository", safe,
              "; ".join([*parsed.problems, *(check.problems if check and not safe else ())]) or "paths are safe"),
        _rule("max_files", 0 < len(files) <= policy.max_files, f"{len(files)} file(s), limit {policy.max_files}"),
        _rule("max_changed_lines", changed <= policy.max_changed_lines,
              f"{changed} changed line(s), limit {policy.max_changed_lines}"),
        _rule("deny_paths", not user_denied, "; ".join(user_denied) or "no file matches the service map's deny_paths"),
        _rule("built-in deny list", not built_in,
              "; ".join(built_in) or "no CI, build, dependency, security or migration file"),
    ]  # fmt: skip
    if check is None:
        rules.append(_rule("patch checked", False, "the patch was not checked against the deployed commit"))
        return rules
    rules.append(_rule("patch applies cleanly", check.applies,
                       "git apply succeeded at the deployed commit" if check.applies
                       else "; ".join(check.problems) or "git apply failed"))  # fmt: skip
    if check.test_passed is None:
        rules.append(_rule("tests pass", check.applies, "no test_command configured for this service"))
    else:
        rules.append(_rule("tests pass", check.test_passed, "test_command passed" if check.test_passed
                           else "; ".join(check.problems) or "test_command failed"))  # fmt: skip
    return rules


def decide(
    planned: PlannedIncident, finding: Finding | None, analysis: AgentAnalysis | None,
    patch_check: PatchVerdict | None, *, environment: Environment | None, policy: AutoFixPolicy, prs_this_run: int,
) -> Decision:  # fmt: skip
    """Skip muted incidents; otherwise an issue, plus a draft PR only when every auto-fix rule passes."""
    fingerprint = planned.incident.fingerprint
    if planned.status == "muted":
        return Decision(fingerprint=fingerprint, action="skip",
                        reasons=(_rule("not muted", False, "the incident is muted in state"),))  # fmt: skip
    env_ok = environment is not None and environment.auto_fix
    reasons = [
        _rule("not muted", True, f"incident status {planned.status!r}"),
        _rule("environment allows auto-fix", env_ok,
              f"environment {planned.incident.environment!r} has auto_fix={env_ok}"),
        _rule("finding available", finding is not None,
              "deterministic finding present" if finding else "no finding (investigation failed or was skipped)"),
        *_analysis_rules(analysis, policy),
    ]  # fmt: skip
    if analysis is not None and analysis.patch:
        reasons.extend(_patch_rules(analysis.patch, patch_check, policy))
    reasons.append(
        _rule("max_prs_per_run", prs_this_run < policy.max_prs_per_run,
              f"{prs_this_run} PR(s) already this run, limit {policy.max_prs_per_run}")
    )  # fmt: skip
    action = "issue_and_pr" if all(r.passed for r in reasons) else "issue"
    return Decision(fingerprint=fingerprint, action=action, reasons=tuple(reasons))
