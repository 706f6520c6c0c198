"""The publish decision for one incident, made by pure policy code."""

from __future__ import annotations

from typing import Literal

from error_autopilot.domain.base import Frozen


class RuleOutcome(Frozen):
    """One policy rule and what it said."""

    rule: str  # "environment allows auto-fix", "max_changed_lines", ...
    passed: bool
    detail: str


class Decision(Frozen):
    """What publish will do: nothing (muted), an issue, or an issue plus a draft PR."""

    fingerprint: str
    action: Literal["skip", "issue", "issue_and_pr"]
    reasons: tuple[RuleOutcome, ...] = ()

    @property
    def refused_by(self) -> tuple[RuleOutcome, ...]:
        """The rules that said no."""
        return tuple(r for r in self.reasons if not r.passed)
