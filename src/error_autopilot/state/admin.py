"""`error-autopilot state show|repair|reset|scrub`: a person looking at or fixing the state branch by hand.

Never resets or rewrites history without --yes; a save that lost a race with a run is a StateConflict,
never reported as done."""

from __future__ import annotations

import json
from pathlib import Path

from error_autopilot.domain.errors import ConfigError, StateConflict, StateCorrupt
from error_autopilot.state.model import STATE_SCHEMA_VERSION, Cursor, IncidentRecord, RunBookkeeping, State, state_json
from error_autopilot.state.store import GitStateStore


def state_admin(action: str, repo: str | None, branch: str, work_dir: Path, confirmed: bool) -> str:
    """Do `action` (show, repair, reset or scrub) on the state branch; returns what to print."""
    store = GitStateStore(repo, branch=branch, work_dir=work_dir)
    tip, text = store.read_raw()
    if action == "show":
        return text if text is not None else f"(no {branch} branch yet: the first run creates it)"
    if action == "scrub":
        return scrub_history(store, tip, confirmed)
    if action == "reset":
        if not confirmed:
            raise ConfigError("state reset forgets every cursor and incident; repeat with --yes to confirm",
                              hint="known issues are found again by their fingerprint markers")  # fmt: skip
        _write_or_refuse(store, State(), "state reset by hand", tip)
        return f"reset {branch}"
    if text is None:
        return f"nothing to repair: {branch} does not exist yet (the first run creates it)"
    repaired, dropped = repair(text)
    _write_or_refuse(store, repaired, "state repaired by hand", tip)
    kept = f"kept {len(repaired.incidents)} incident(s)"
    return f"repaired {branch}: {kept}, dropped {len(dropped)}: {', '.join(dropped) or 'nothing'}"


def scrub_history(store: GitStateStore, tip: str | None, confirmed: bool) -> str:
    """`state scrub`: the branch rewritten as one commit holding the current state without log text
    (older versions kept raw sample lines and unredacted titles in every commit)."""
    if tip is None:
        return f"(no {store.branch} branch: nothing to scrub)"
    if not confirmed:
        raise ConfigError(
            f"state scrub replaces the whole history of {store.branch} with one commit (a force-push); "
            "repeat with --yes to confirm",
            hint="run it between two scheduled runs; clones made before keep the old commits",
        )
    body = state_json(store.load())
    store.replace_history(body, "error-autopilot: state scrubbed of log text (history rewritten)", tip)
    return (f"scrubbed {store.branch}: its history is now one commit, without log lines; secrets that older "
            "versions stored may still be in forks, clones and GitHub's caches, so rotate them")  # fmt: skip


def _write_or_refuse(store: GitStateStore, state: State, message: str, tip: str | None) -> None:
    if not store.write_raw(state_json(state), f"error-autopilot: {message}", tip):
        raise StateConflict(
            f"nothing written: {store.branch} changed since it was read (a run saved in between)",
            hint="run the command again",
        )


def repair(text: str | None) -> tuple[State, list[str]]:
    """Keep every record of a damaged state.json that still validates; name the ones dropped.

    A file of a newer schema version is refused (StateCorrupt): rewriting it in this version's
    layout would silently drop what the newer version recorded."""
    try:
        raw = json.loads(text or "{}")
    except json.JSONDecodeError:
        return State(), ["the whole file (not JSON)"]
    if not isinstance(raw, dict):
        return State(), ["the whole file (not a JSON object)"]
    version = raw.get("schema_version", 0)
    if isinstance(version, int) and version > STATE_SCHEMA_VERSION:
        raise StateCorrupt(
            f"state.json has schema version {version}, newer than this error-autopilot understands "
            f"({STATE_SCHEMA_VERSION}): not repaired",
            hint="repair it with the newer version that wrote it; an older one must not rewrite it",
        )
    dropped: list[str] = []
    incidents, cursors = {}, {}
    for fp, record in (raw.get("incidents") or {}).items():
        try:
            incidents[fp] = IncidentRecord.model_validate(record)
        except ValueError:
            dropped.append(f"incident {fp}")
    for env, cursor in (raw.get("cursors") or {}).items():
        try:
            cursors[env] = Cursor.model_validate(cursor)
        except ValueError:
            dropped.append(f"cursor {env}")
    try:
        runs = RunBookkeeping.model_validate(raw.get("runs") or {})
    except ValueError:
        runs = RunBookkeeping()
        dropped.append("run bookkeeping (daily token spend)")
    return State(incidents=incidents, cursors=cursors, runs=runs), dropped
