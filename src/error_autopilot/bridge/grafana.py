"""Grafana alerts → `AlertRequest`s (pure: no I/O, no SDKs).

Two inputs: the text Grafana's Telegram contact point posts (its default `default.message`, or a
team's own template such as `🚨 legacy-service - ERROR LOG!!! is Firing`), as it reaches us through
a forward or a channel post; and the JSON body of a webhook contact point. Both give the same
requests. Values are only ever kept if they look like names, so nothing hostile travels further.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from error_autopilot.domain.dispatch import DispatchPayload
from error_autopilot.investigation.sanitize import sanitize

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}$")
_TRACE_RE = re.compile(r"^[0-9a-fA-F]{16,32}$")
_TRACE_IN_TEXT = re.compile(r"\btrace[_ .-]?id\b\W{0,3}([0-9a-fA-F]{16,32})\b", re.IGNORECASE)
ENVIRONMENT_KEYS = (
    "deployment_environment",
    "deployment.environment",
    "deployment_environment_name",
    "env",
    "environment",
    "namespace",
    "k8s_namespace_name",
    "service_namespace",
)
SERVICE_KEYS = ("service_name", "service.name", "service", "app", "application", "job", "container")
TRACE_KEYS = ("trace_id", "traceid", "traceID", "traceId", "trace")
TEXT_LIMIT = 2000  # how much of an alert travels as evidence in the dispatch payload
_HEADER = re.compile(r"^\s*\**\s*(Firing|Resolved)\s*\**\s*$", re.IGNORECASE)
_CUSTOM = re.compile(
    r"^\W*?(?P<service>[A-Za-z0-9][A-Za-z0-9_.\-]*)\s+[-–—:]\s+(?P<name>.+?)\s+is\s+(?P<status>firing|resolved)\b",
    re.IGNORECASE,
)
_KV_LINE = re.compile(r"^\s*-\s*(?P<k>[^=]+?)\s*=\s*(?P<v>.*?)\s*$")
_URL_LINE = re.compile(r"^(?P<k>Source|Silence|Dashboard|Panel):\s*(?P<v>\S+)\s*$")
_FIELD_LINE = re.compile(r"^\s*(?P<k>[A-Za-z][\w ]{0,30}?)\s*:\s*(?P<v>.+?)\s*$")


class AlertRequest(BaseModel):
    """One alert that may start a run."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    environment: Annotated[str, Field(pattern=NAME_RE.pattern)]
    service: Annotated[str | None, Field(pattern=NAME_RE.pattern)] = None
    alertname: Annotated[str | None, Field(max_length=200)] = None
    status: Literal["firing", "resolved"]
    trace_id: Annotated[str | None, Field(pattern=_TRACE_RE.pattern)] = None
    since: datetime | None = None  # when the alert started firing (webhooks only; texts do not say)
    source_url: Annotated[str | None, Field(max_length=2000)] = None
    text: Annotated[str, Field(max_length=TEXT_LIMIT)] = ""  # the alert's own block, as evidence


def _name(value: object) -> str | None:
    text = str(value).strip() if value is not None else ""
    return text if NAME_RE.match(text) else None


def _first(labels: Mapping[str, str], keys: Iterable[str]) -> str | None:
    lowered = {k.lower(): v for k, v in labels.items()}
    for key in keys:
        found = _name(lowered.get(key.lower()))
        if found:
            return found
    return None


def _trace(labels: Mapping[str, str], text: str) -> str | None:
    lowered = {k.lower(): v for k, v in labels.items()}
    for key in TRACE_KEYS:
        value = str(lowered.get(key.lower(), "")).strip()
        if _TRACE_RE.match(value):
            return value.lower()
    match = _TRACE_IN_TEXT.search(text)
    return match.group(1).lower() if match else None


def _request(
    labels: Mapping[str, str],
    *,
    status: str,
    text: str,
    default_environment: str,
    source_url: str | None = None,
    since: datetime | None = None,
    service: str | None = None,
    alertname: str | None = None,
) -> AlertRequest:
    url = source_url if source_url and source_url.startswith(("https://", "http://")) else None
    return AlertRequest(
        environment=_first(labels, ENVIRONMENT_KEYS) or default_environment,
        service=_first(labels, SERVICE_KEYS) or _name(service),
        alertname=(labels.get("alertname") or alertname or "")[:200] or None,
        status="resolved" if status.lower() == "resolved" else "firing",
        trace_id=_trace(labels, text),
        since=since,
        source_url=url[:2000] if url else None,
        text=text[:TEXT_LIMIT],
    )


def _blocks(lines: list[str]) -> list[list[str]]:
    blocks: list[list[str]] = [[]]
    for line in lines:
        if not line.strip():
            if blocks[-1]:
                blocks.append([])
            continue
        blocks[-1].append(line)
    return [b for b in blocks if b]


def _parse_default_block(block: list[str], status: str, default_environment: str) -> AlertRequest | None:
    labels: dict[str, str] = {}
    urls: dict[str, str] = {}
    section = ""
    for line in block:
        stripped = line.strip()
        if stripped in {"Labels:", "Annotations:"}:
            section = stripped
            continue
        kv = _KV_LINE.match(line)
        if kv and section == "Labels:":
            labels[kv.group("k")] = kv.group("v")
            continue
        url = _URL_LINE.match(stripped)
        if url:
            urls[url.group("k")] = url.group("v")
            section = ""
    if not labels:
        return None
    return _request(
        labels,
        status=status,
        text="\n".join(block),
        default_environment=default_environment,
        source_url=urls.get("Source"),
    )


def _parse_custom(lines: list[str], default_environment: str) -> list[AlertRequest]:
    for i, line in enumerate(lines):
        match = _CUSTOM.match(line.strip())
        if not match:
            continue
        fields: dict[str, str] = {}
        for rest in lines[i + 1 :]:
            kv = _KV_LINE.match(rest) or _FIELD_LINE.match(rest)
            if kv:
                fields[kv.group("k").strip().lower().replace(" ", "_")] = kv.group("v")
        urls = [v for k, v in fields.items() if k in {"source", "url", "link", "dashboard"}]
        text = "\n".join(lines[i:])
        return [
            _request(
                fields,
                status=match.group("status"),
                text=text,
                default_environment=default_environment,
                source_url=urls[0] if urls else None,
                service=match.group("service"),
                alertname=match.group("name"),
            )
        ]
    return []


def parse_alert_text(text: str, *, default_environment: str) -> list[AlertRequest]:
    """Every alert in a Grafana Telegram message; [] when the text is not one.

    Grafana cuts its message at 4,096 runes and ends it with `…`: the half line before the cut is
    dropped rather than read as a (wrong) value."""
    lines = text.replace("\r\n", "\n").split("\n")
    if text.rstrip().endswith("…"):
        lines = lines[:-1]
    if not any(_HEADER.match(line) for line in lines):
        return _parse_custom(lines, default_environment)
    found: list[AlertRequest] = []
    status = "firing"
    section: list[str] = []
    sections: list[tuple[str, list[str]]] = []
    for line in lines:
        header = _HEADER.match(line)
        if header:
            if section:
                sections.append((status, section))
            status, section = header.group(1).lower(), []
            continue
        section.append(line)
    sections.append((status, section))
    for sec_status, sec_lines in sections:
        for block in _blocks(sec_lines):
            alert = _parse_default_block(block, sec_status, default_environment)
            if alert:
                found.append(alert)
    return found


def _str_map(value: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, Mapping) else {}


def _time(value: Any) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.year > 1 and parsed.tzinfo else None


def parse_webhook(payload: Any, *, default_environment: str) -> list[AlertRequest]:
    """Every alert in a Grafana webhook contact point body (`version: "1"`); [] for anything else."""
    if not isinstance(payload, Mapping) or not isinstance(payload.get("alerts"), list):
        return []
    common = _str_map(payload.get("commonLabels"))
    found: list[AlertRequest] = []
    for alert in payload["alerts"]:
        if not isinstance(alert, Mapping):
            continue
        labels = {**common, **_str_map(alert.get("labels"))}
        annotations = _str_map(alert.get("annotations"))
        text = "\n".join(f"{k} = {v}" for k, v in sorted({**labels, **annotations}.items()))
        found.append(
            _request(
                labels,
                status=str(alert.get("status") or payload.get("status") or "firing"),
                text=text,
                default_environment=default_environment,
                source_url=str(alert.get("generatorURL") or "") or None,
                since=_time(alert.get("startsAt")),
            )
        )
    return found


def since_window(started: datetime | None, now: datetime, *, margin: timedelta = timedelta(minutes=10)) -> str | None:
    """A `since` for the run: from a little before the alert started, at most a week back."""
    if started is None:
        return None
    minutes = int(max(timedelta(0), now - started + margin).total_seconds() // 60) + 1
    return f"{minutes}m" if minutes <= 600 else f"{min(-(-minutes // 60), 7 * 24)}h"


def dispatch_payload(alert: AlertRequest, *, now: datetime) -> DispatchPayload:
    """The repository_dispatch client_payload for one firing alert."""
    return DispatchPayload(
        environment=alert.environment,
        service=alert.service,
        trace_id=alert.trace_id,
        since=since_window(alert.since, now),
        text=sanitize(alert.text) or None,
    )
