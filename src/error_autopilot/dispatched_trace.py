"""A trace id someone asked about (a dispatch from the Telegram bridge, `--trace-id`) made part of the plan."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from error_autopilot.config.service_map import ServiceMap
from error_autopilot.domain.incidents import Plan, PlannedIncident
from error_autopilot.ports import TraceSource
from error_autopilot.state import ledger

log = logging.getLogger(__name__)


def with_trace(
    plan: Plan, trace_id: str, environments: list[str], *, smap: ServiceMap,
    trace_sources: Callable[[], Mapping[str, TraceSource]],
) -> Plan:  # fmt: skip
    """Make sure a dispatched trace is investigated: first in its incident, or as an incident of its own.
    That incident goes first, so the run selects it; the last one the plan selected is then left lean.
    `trace_sources` is called only when no planned incident holds the trace (Tempo is asked then)."""
    from error_autopilot.investigation.traces import incident_from_trace  # noqa: PLC0415 - rarely needed

    tid = trace_id.lower().rjust(32, "0")
    for planned in plan.incidents:
        if tid in planned.incident.trace_ids:
            ids = (*[t for t in planned.incident.trace_ids if t != tid], tid)
            moved = planned.model_copy(update={"incident": planned.incident.model_copy(update={"trace_ids": ids}),
                                               "evidence": "full"})  # fmt: skip
            return _first(plan, moved, [p for p in plan.incidents if p is not planned])
    sources = trace_sources()
    for env in environments:
        if env not in sources:
            continue
        incident = incident_from_trace(sources[env].get_trace(tid), env, smap)
        if incident is not None:
            return _first(plan, PlannedIncident(incident=incident, status="new"), list(plan.incidents))
    log.warning("trace %s was not found in any environment's Tempo; nothing added to the plan", tid)
    return plan


def _first(plan: Plan, first: PlannedIncident, others: list[PlannedIncident]) -> Plan:
    """The plan with `first` ahead of `others`, selected again under its cap."""
    return plan.model_copy(update={"incidents": ledger.select([first, *others], plan.max_incidents)})
