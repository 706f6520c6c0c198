"""state.json schema migrations: an append-only list of named steps (never edit a released one)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from error_autopilot.domain.errors import StateCorrupt
from error_autopilot.domain.layout import line_key
from error_autopilot.redaction import Redactor
from error_autopilot.state.model import STATE_SCHEMA_VERSION, State

Raw = dict[str, Any]


def m001_initial(raw: Raw) -> Raw:
    """Version 1 is the first released layout; files without a version are version 1."""
    return {**raw, "schema_version": 1}


def m002_no_log_text(raw: Raw) -> Raw:
    """Version 2 keeps no log text. Older versions stored pending incidents with their raw sample
    lines, and titles and stacks unredacted: the samples go, the rest is redacted. (Old commits of
    the branch still hold them: `error-autopilot state scrub` rewrites its history.)"""
    redactor = Redactor()
    raw = {**raw, "schema_version": 2}
    if isinstance(incidents := raw.get("incidents"), dict):
        raw["incidents"] = {fp: _without_log_text(record, redactor) for fp, record in incidents.items()}
    return raw


def _without_log_text(record: Any, redactor: Redactor) -> Any:
    if not isinstance(record, dict):
        return record
    record = dict(record)
    if isinstance(record.get("title"), str):
        record["title"] = redactor.redact(record["title"])
    if isinstance(pending := record.get("pending_incident"), dict):
        record["pending_incident"] = {**redactor.redact_tree(pending), "sample": []}
    return record


def m003_lifecycle(raw: Raw) -> Raw:
    """Version 3 follows an issue after publication: fixes, deployed versions, verification, labels
    known per repository. Every new field has a default; an issue closed in an older state has no
    recorded reason and is treated as completed, so a returning error is still a regression."""
    return {**raw, "schema_version": 3}


def m004_compact(raw: Raw) -> Raw:
    """Version 4 is written in the compact layout (`domain.layout`: line keys packed, timelines as series,
    frames and fingerprint parts as arrays, defaults left out) and keeps at most `policy.max_pending`
    pending incidents. Values are unchanged, with one exception: the overlap's line ids are cut to their
    first 64 bits, the key this version compares (`layout.line_key`). The layout itself is read either way."""
    raw = {**raw, "schema_version": 4}
    if isinstance(cursors := raw.get("cursors"), dict):
        raw["cursors"] = {env: _keys_cut(cursor) for env, cursor in cursors.items()}
    return raw


def _keys_cut(cursor: Any) -> Any:
    ids = cursor.get("seen_line_ids") if isinstance(cursor, dict) else None
    if not isinstance(ids, list):
        return cursor
    return {**cursor, "seen_line_ids": sorted({line_key(i) if isinstance(i, str) else i for i in ids})}


# Index i migrates a file of version i to version i + 1 (index 0: unversioned → 1).
MIGRATIONS: list[tuple[str, Callable[[Raw], Raw]]] = [
    ("m001_initial", m001_initial),
    ("m002_no_log_text", m002_no_log_text),
    ("m003_lifecycle", m003_lifecycle),
    ("m004_compact", m004_compact),
]
assert len(MIGRATIONS) == STATE_SCHEMA_VERSION, "every schema version needs its migration"


def migrate(raw: Any, *, where: str) -> State:
    """Bring a decoded state file to the current version and validate it."""
    if not isinstance(raw, dict):
        raise StateCorrupt(f"{where} is not a JSON object", hint="inspect it with `error-autopilot state show`")
    version = raw.get("schema_version", 0)
    if not isinstance(version, int) or version < 0:
        raise StateCorrupt(f"{where} has an invalid schema_version {version!r}")
    if version > STATE_SCHEMA_VERSION:
        raise StateCorrupt(
            f"{where} has schema version {version}, newer than this error-autopilot understands "
            f"({STATE_SCHEMA_VERSION})",
            hint="upgrade the action; an older version must not rewrite a newer state file",
        )
    for _name, step in MIGRATIONS[version:]:
        raw = step(raw)
    try:
        return State.model_validate(raw)
    except ValidationError as e:
        first = e.errors()[0]
        loc = ".".join(map(str, first["loc"]))
        raise StateCorrupt(
            f"{where} does not match the state schema ({e.error_count()} problem(s), first at {loc}: {first['msg']})",
            hint="`error-autopilot state repair` keeps what is valid; `state reset --yes` starts over",
        ) from e
