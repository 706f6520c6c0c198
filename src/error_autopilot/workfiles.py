"""The files the phases hand each other in the work folder: plan.json, finding-<fp>.json, deferred.json,
report.json and summary.md. Each is written atomically (a killed run never leaves half a file for the next
phase) and read back with an error that names the file."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from pydantic import BaseModel

from error_autopilot.domain.errors import ConfigError, FilesystemError
from error_autopilot.domain.findings import Finding
from error_autopilot.domain.incidents import Plan
from error_autopilot.domain.layout import COMPACT

DEFERRED_FILE = "deferred.json"
_WRITABLE_HINT = "choose a writable folder with {flag}, or fix its permissions"


def ensure_writable(folder: Path, flag: str) -> None:
    """Fail before any work (and any state write) when a folder the run must write to is not writable."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-check-"):
            pass
    except OSError as e:
        raise FilesystemError(
            f"cannot write to {folder} ({flag}): {e.strerror or e}", hint=_WRITABLE_HINT.format(flag=flag)
        ) from e


def write_json(path: Path, data: str | Iterable[str]) -> None:
    """Write atomically so a killed run never leaves half a file for the next phase; `data` may come in
    pieces, so a large file need not exist as one string."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tmp.open("w", encoding="utf-8") as out:
            out.writelines([data] if isinstance(data, str) else data)
        tmp.replace(path)
    except OSError as e:
        raise FilesystemError(
            f"cannot write {path}: {e.strerror or e}", hint=_WRITABLE_HINT.format(flag="--work-dir / --output")
        ) from e


def write_plan(path: Path, plan: Plan) -> None:
    """plan.json, byte for byte what `plan_json(plan)` is, written one incident at a time: a storm's plan is
    tens of megabytes, and that string (with the serializer's buffer behind it) was the plan command's
    peak memory."""
    write_json(path, _plan_pieces(plan))


def plan_json(model: BaseModel) -> str:
    """A plan (or a piece of one) as plan.json holds it. Only this version reads it back (the later stages
    of the same workflow run, or one upgraded in between: it reads the older layout too), so it leaves out
    what is at its default and writes the compact layout (`domain.layout`)."""
    return model.model_dump_json(exclude_defaults=True, context={COMPACT: True})


def _plan_pieces(plan: Plan) -> Iterator[str]:
    marker = '"incidents":['
    frame = plan_json(plan.model_copy(update={"incidents": ()}))
    if frame.count(marker + "]") != 1:  # cannot tell where the list goes: write it whole
        yield plan_json(plan)
        return
    head, tail = frame.split(marker + "]")
    yield head + marker
    for n, planned in enumerate(plan.incidents):
        yield "," + plan_json(planned) if n else plan_json(planned)
    yield "]" + tail


def read_plan(path: Path) -> Plan:
    """Load plan.json with a clear error when it is missing or from another version."""
    try:
        return Plan.model_validate_json(path.read_bytes())  # bytes: no decoded copy of a large plan
    except OSError as e:
        raise ConfigError(f"cannot read the plan {path}: {e.strerror or e}") from e
    except ValueError as e:
        raise ConfigError(f"{path} is not a plan this version understands: {e}") from e


def read_findings(folder: Path) -> dict[str, Finding]:
    """Every finding-<fp>.json of a folder (the hardened flow merges the matrix artifacts here)."""
    findings: dict[str, Finding] = {}
    if not folder.is_dir():
        return findings
    for file in sorted(folder.glob("finding-*.json")):
        try:
            finding = Finding.model_validate_json(file.read_text(encoding="utf-8"))
        except ValueError as e:
            raise ConfigError(f"{file} is not a finding this version understands: {e}") from e
        findings[finding.fingerprint] = finding
    return findings


def write_deferred(folder: Path, fingerprints: list[str]) -> None:
    """The incidents the run deadline left uninvestigated: publish leaves them pending, not bare."""
    write_json(folder / DEFERRED_FILE, json.dumps(sorted(fingerprints)))


def read_deferred(folder: Path) -> list[str]:
    """The deferred fingerprints written by investigate (none when it did not run or wrote none)."""
    try:
        data = json.loads((folder / DEFERRED_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as e:
        raise ConfigError(f"cannot read {folder / DEFERRED_FILE}: {e}") from e
    return [str(x) for x in data] if isinstance(data, list) else []
