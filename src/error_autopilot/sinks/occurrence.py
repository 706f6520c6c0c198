"""The occurrences of an incident, for its issue (pure): the newest one with its stack (own frames
linked at the deployed commit, library frames folded), the other samples grouped by message, and a
timeline per environment and deployed version."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from urllib.parse import quote

from error_autopilot.config.service_map import GrafanaLinks
from error_autopilot.domain.findings import Finding
from error_autopilot.domain.incidents import PlannedIncident, SampleLine
from error_autopilot.domain.stack import Frame
from error_autopilot.incidents.parameterize import parameterize
from error_autopilot.sinks.comments import when
from error_autopilot.sinks.untrusted import Untrusted, linked

MAX_FRAMES = 40  # own frames listed for the newest occurrence; library frames are folded anyway
_BUCKETS = (1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440)  # minutes per timeline bar
_MAX_BARS = 24
_SHA = re.compile(r"^[0-9a-f]{7,40}$")


def explore(g: GrafanaLinks, kind: str, uid: str | None, query: dict[str, str], start: datetime,
             end: datetime) -> str | None:  # fmt: skip
    """A Grafana Explore link for one query around [start, end]; None without a configured data source."""
    if not uid:
        return None  # never guessed: no link without a configured data source
    pane = {"ea": {"datasource": uid, "queries": [{"refId": "A", "datasource": {"type": kind, "uid": uid}, **query}],
                   "range": {"from": str(int(start.timestamp() * 1000) - 300_000),
                             "to": str(int(end.timestamp() * 1000) + 300_000)}}}  # fmt: skip
    return f"{g.url.rstrip('/')}/explore?schemaVersion=1&panes={quote(json.dumps(pane, separators=(',', ':')))}"


def trace_url(p: PlannedIncident, grafana: GrafanaLinks | None, trace_id: str) -> str | None:
    """The trace in Grafana's Tempo Explore, when Tempo is configured."""
    if grafana is None:
        return None
    i = p.incident
    query = {"queryType": "traceql", "query": re.sub(r"[^0-9a-fA-F]", "", trace_id)[:32]}
    return explore(grafana, "tempo", grafana.tempo_datasource_uid, query, i.first_seen, i.last_seen)


def _web_base(f: Finding | None) -> str | None:
    """https://github.com/owner/name of the culprit repo, from a permalink we built."""
    loc = f.primary_location if f else None
    match = re.match(r"^(https?://[^\s]+?)/blob/", loc.permalink or "") if loc else None
    return match.group(1) if match else None


def _ts(ns: int) -> datetime:
    return datetime.fromtimestamp(ns / 1e9, UTC)


def first_version(p: PlannedIncident) -> str | None:
    """The deployed version the incident was first seen on this window."""
    cells = sorted((c.minute, c.version) for c in p.incident.timeline if c.version)
    return cells[0][1] if cells else (p.incident.versions[0] if p.incident.versions else None)


def version_link(version: str, p: PlannedIncident, f: Finding | None, t: Untrusted) -> str:
    """A version of the logging service, linked to its commit when it is one and that repo is known."""
    base = _web_base(f) if f and f.culprit_service == p.incident.service else None
    url = f"{base}/commit/{version}" if base and _SHA.match(version) else None
    return linked(t.span(version[:12] if _SHA.match(version) else version, 40), url)


def _frame_target(frame: Frame, p: PlannedIncident, f: Finding | None) -> tuple[str | None, str | None]:
    """The repository path and permalink (at the deployed commit) of an own frame investigation mapped.
    Only in the logging service's own repo: a symptom's frames are not in the culprit's code."""
    if f is None or not frame.file or f.culprit_service != p.incident.service:
        return None, None
    file = frame.file.replace("\\", "/")
    name = file.rsplit("/", 1)[-1]
    for loc in (*f.evidence_chain, *((f.primary_location,) if f.primary_location else ())):
        if file.endswith(loc.path) or ("/" not in file and _same_file(loc.path, name, frame.module)):
            url = loc.permalink if frame.line == loc.line or not loc.permalink else (
                f"{loc.permalink.split('#')[0]}#L{frame.line or 1}")  # fmt: skip
            return loc.path, url
    return None, None


def _same_file(path: str, name: str, module: str | None) -> bool:
    """A JVM/.NET frame names only its file (`UserService.kt`); its package must match the path too."""
    package = module.rsplit(".", 1)[0].replace(".", "/") if module and "." in module else ""
    return path.rsplit("/", 1)[-1] == name and package in path


def _frames(frames: Sequence[Frame], omitted: int, p: PlannedIncident, f: Finding | None, t: Untrusted,
            budget: list[int]) -> list[str]:  # fmt: skip
    out: list[str] = []
    library: list[Frame] = []

    def fold() -> None:
        if library:
            modules = list(dict.fromkeys((fr.module or fr.file or "?").rsplit(".", 1)[0] for fr in library))
            names = ", ".join(t.span(m, 50) for m in modules[:2]) + (", …" if len(modules) > 2 else "")
            out.append(f"- ⋯ {len(library)} library frame(s): {names}")
            library.clear()

    for frame in frames:
        if not frame.in_app:
            library.append(frame)
            continue
        fold()
        if budget[0] <= 0:
            continue
        budget[0] -= 1
        path, url = _frame_target(frame, p, f)
        file = path or frame.file
        where = f"{file}:{frame.line}" if file and frame.line else (file or "?")
        symbol = f"{frame.module}.{frame.function}" if frame.module else frame.function
        out.append(f"- ◆ {linked(t.span(where, 120), url)} {t.span(symbol, 120)}")
    fold()
    if omitted:
        out.append(f"- ⋯ {omitted} more frame(s) not in the log line")
    return out


def _stack(p: PlannedIncident, f: Finding | None, t: Untrusted) -> list[str]:
    stack = p.incident.stack
    if stack is None:
        return ["No stack trace in the log line.", ""]
    out = ["Stack, throwing frame first (◆ = this service's own code):", ""]
    budget = [MAX_FRAMES]
    for n, exc in enumerate(stack.exceptions[:5]):
        head = "Thrown" if n == 0 else "Caused by"
        message = f": {t.inline(exc.message.split(chr(10))[0], 200)}" if exc.message.strip() else " (no message)"
        out += [f"{head} {t.span(exc.type, 120)}{message}", "",
                *_frames(exc.frames, exc.omitted_frames, p, f, t, budget), ""]  # fmt: skip
    if len(stack.exceptions) > 5:
        out += [f"… {len(stack.exceptions) - 5} more cause(s).", ""]
    return out


def _pretty(text: str) -> str:
    """A JSON log line as `key: value` lines, multi-line values (stacks) shown as lines, not `\\n\\tat`."""
    try:
        data = json.loads(text) if text.lstrip().startswith("{") else None
    except ValueError:
        data = None
    if not isinstance(data, dict):
        return text
    lines = []
    for key, value in data.items():
        shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        lines.append(f"{key}: " + shown.replace("\n", "\n    ") if "\n" in shown else f"{key}: {shown}")
    return "\n".join(lines)


def latest(p: PlannedIncident, f: Finding | None, t: Untrusted, grafana: GrafanaLinks | None, *,
            stack: bool, raw: bool) -> list[str]:  # fmt: skip
    samples = p.incident.sample
    if not samples:
        return []
    s = samples[-1]
    facts = [when(_ts(s.ts_ns)) if s.ts_ns > 10**15 else "", t.inline(s.environment, 40),
             f"version {version_link(s.version, p, f, t)}" if s.version else ""]  # fmt: skip
    if s.trace_id:
        facts.append("trace " + linked(t.span(s.trace_id, 40), trace_url(p, grafana, s.trace_id)))
    out = ["### Newest occurrence", "", " · ".join(x for x in facts if x) + f" · line {t.span(s.line_id[:12], 12)}", ""]
    if s.message and (p.incident.stack is None or not stack or not p.incident.stack.primary.message.strip()):
        out += [t.code(s.message, limit=1000), ""]  # the stack's first line says it otherwise
    if stack:
        out += _stack(p, f, t)
    if raw:
        out += ["<details><summary>The log line</summary>", "", t.code(_pretty(s.text), limit=3000), "",
                "</details>", ""]  # fmt: skip
    return out


def others(p: PlannedIncident, t: Untrusted) -> list[str]:
    """The other kept samples, one line per distinct message, with counts."""
    others = p.incident.sample[:-1]
    if not others:
        return []
    groups: dict[str, list[SampleLine]] = {}  # by message shape: values that vary do not make a new message
    for s in others:
        groups.setdefault(parameterize(s.message or " ".join(s.text.split())[:200]), []).append(s)
    out = [f"<details><summary>{len(others)} other recent sample(s), {len(groups)} distinct message(s)</summary>", ""]
    for lines in sorted(groups.values(), key=len, reverse=True):
        ids = ", ".join(t.span(x.line_id[:12], 12) for x in lines[-5:])
        example = lines[-1].message or " ".join(lines[-1].text.split())
        like = "like " if len(lines) > 1 else ""
        out.append(f"- ×{len(lines)} {like}{t.span(example, 200)} — line(s) {ids}")
    return [*out, "", "</details>", ""]


def timeline(p: PlannedIncident, f: Finding | None, t: Untrusted) -> list[str]:
    """Occurrences over time per environment (Mermaid xychart), and per deployed version (a table)."""
    cells = p.incident.timeline
    minutes = sorted({c.minute for c in cells})
    if len(minutes) < 2:
        return []  # one point is no picture
    size = next((b for b in _BUCKETS if (minutes[-1] - minutes[0]) // b < _MAX_BARS), _BUCKETS[-1])
    start = minutes[0] // size * size
    bars = (minutes[-1] - start) // size + 1
    fmt = "%H:%M" if minutes[-1] - minutes[0] < 1440 else "%m-%d %H:%M"
    labels = ", ".join(f'"{datetime.fromtimestamp((start + n * size) * 60, UTC).strftime(fmt)}"' for n in range(bars))
    per_env: dict[str, list[int]] = {}
    for c in cells:
        per_env.setdefault(c.environment, [0] * bars)[(c.minute - start) // size] += c.count
    ranked = sorted(per_env, key=lambda e: -sum(per_env[e]))
    out = ["### Timeline", ""]
    for env in ranked[:3]:
        out += ["```mermaid", "xychart-beta", f'  title "{t.mermaid(env, 40)}: occurrences per {size} min (UTC)"',
                f"  x-axis [{labels}]", '  y-axis "occurrences"', f"  bar {per_env[env]}", "```", ""]  # fmt: skip
    if len(ranked) > 3:
        out += [f"Also in {', '.join(t.inline(e, 40) for e in ranked[3:10])}.", ""]
    if p.incident.timeline_capped:
        out += ["The timeline stops where its cap was reached; counts above are complete.", ""]
    return out + _versions(p, f, t)


def _versions(p: PlannedIncident, f: Finding | None, t: Untrusted) -> list[str]:
    seen: dict[str, list[int]] = {}  # version → [first minute, last minute, count]
    for c in p.incident.timeline:
        if c.version:
            v = seen.setdefault(c.version, [c.minute, c.minute, 0])
            v[0], v[1], v[2] = min(v[0], c.minute), max(v[1], c.minute), v[2] + c.count
    if not seen:
        return []
    out = ["| deployed version | first seen | last seen | occurrences |", "|---|---|---|---:|"]
    for version, (first, last, count) in sorted(seen.items(), key=lambda kv: kv[1][0])[:10]:
        out.append(f"| {version_link(version, p, f, t).replace('|', '')} | {when(_ts(first * 60 * 10**9))} "
                   f"| {when(_ts(last * 60 * 10**9))} | {count} |")  # fmt: skip
    return [*out, ""]
