"""The LLM token budget of one run, shared by the incidents it investigates at once.

Each incident reserves its allowance under a lock before its analysis starts and settles it with what it
really used, so concurrent incidents never overspend the run's or the day's budget."""

from __future__ import annotations

import threading
from collections.abc import Callable

from error_autopilot.config.service_map import Budget as BudgetPolicy
from error_autopilot.domain.findings import Finding
from error_autopilot.domain.incidents import PlannedIncident
from error_autopilot.ports import Budget

SKIPPED = "LLM analysis skipped: the run or daily token budget is used up"


class SharedTokenBudget:
    """What is left of the run's and the day's tokens, handed out one incident at a time (thread-safe)."""

    def __init__(self, policy: BudgetPolicy, spent_today: int = 0) -> None:
        self._policy = policy
        self._spent_today = spent_today  # by earlier runs today (state keeps it): the daily budget spans runs
        self._lock = threading.Lock()
        self._spent = 0
        self._reserved = 0

    def investigate(
        self, planned: PlannedIncident, *, plain: Callable[[PlannedIncident], Finding],
        analysed: Callable[[PlannedIncident, Budget], Finding],
    ) -> Finding:  # fmt: skip
        """`analysed` under this incident's share of the budget; `plain` (saying why) when too little is left."""
        policy = self._policy
        with self._lock:
            left = min(policy.tokens_per_run, policy.tokens_per_day - self._spent_today) - self._spent - self._reserved
            share = min(policy.tokens_per_incident, left) if left >= policy.tokens_per_incident // 4 else 0
            self._reserved += share
        if not share:
            finding = plain(planned)
            return finding.model_copy(update={"truncated": (*finding.truncated, SKIPPED)})
        allowance = Budget(tokens=share, turns=policy.turns_per_incident, seconds=policy.seconds_per_incident)
        used = 0
        try:
            finding = analysed(planned, allowance)
            used = finding.tokens_used
        finally:
            with self._lock:
                self._reserved -= share
                self._spent += used
        return finding
