"""Stack traces a shipper split into one entry per line (Docker's or Kubernetes' log files read with no
multiline stage: grafana/loki#2747), through the real poll against the loopback Loki with the default
line filter: put back together from their stream's unfiltered neighbours — one incident per bug, with
its stack — within a bounded number of reads, and never lost when that cannot be done."""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from error_autopilot.config.service_map import ServiceMap
from error_autopilot.demo.httpserver import LoopbackServer, Request, Response
from error_autopilot.demo.loki_server import LokiServer
from error_autopilot.domain.incidents import Plan
from error_autopilot.pipeline import PlanRequest, plan
from error_autopilot.sources.http import build_client
from error_autopilot.sources.loki import LokiSource
from error_autopilot.state.store import GitStateStore, SeededStateStore

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
NOW_NS = int(NOW.timestamp()) * 10**9
SECOND = 10**9
MICRO = 1000
TOKEN = "ghp_" + "Zq7Lm2Xv9Rt4Yb8Nc1Kd6Wf3Hs5Jp0Ge2Ua9"  # the shape of a GitHub token, never real

# Each as its runtime writes it, one entry a line (from the corpus' real traces, names shortened)
PYTHON = [
    "ERROR:billing.api:invoice inv-{n} failed",
    "Traceback (most recent call last):",
    '  File "/app/billing/api.py", line 12, in handle_create_invoice',
    "    total = invoice_total(payload)",
    '  File "/app/billing/invoice.py", line 14, in invoice_total',
    f'    rate = fetch_rate(invoice["currency"], headers={{"Authorization": "token {TOKEN}"}})',
    "KeyError: 'currency-{n}'",
]
JVM = [
    "java.lang.NullPointerException: Cannot invoke \"String.length()\" because \"name\" is null",
    "\tat com.acme.user.UserService.displayName(UserService.kt:31)",
    "\tat com.acme.user.UserController.get(UserController.kt:18)",
    "\tat org.springframework.web.servlet.FrameworkServlet.service(FrameworkServlet.java:885)",
]
GO = [
    "panic: assignment to entry in nil map",
    "",
    "goroutine 7 [running]:",
    "panic({0x6d5e40, 0x8a2b30})",
    "\t/usr/local/go/src/runtime/panic.go:770 +0x132",
    "github.com/acme/inventory/stock.(*Store).Reserve(0x0, {0xc000123, 0x5})",
    "\t/src/stock/store.go:88 +0x1d",
    "main.main()",
    "\t/src/main.go:42 +0x85",
]
NODE = [
    "[2024-05-13 15:06:38.123] [ERROR] console - TypeError: Cannot read properties of undefined (reading 'id')",
    "    at renderCart (/app/src/cart.js:41:17)",
    "    at handle (/app/src/server.js:88:5)",
    "    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)",
]
DOTNET = [
    "Unhandled exception. System.InvalidOperationException: Sequence contains no elements",
    "   at Acme.Payments.Ledger.Settle(Int32 id) in /src/Payments/Ledger.cs:line 57",
    "   at Acme.Payments.Api.Post() in /src/Payments/Api.cs:line 21",
]
TRACES = {"billing": PYTHON, "users": JVM, "inventory": GO, "web": NODE, "payments": DOTNET}


class _Loki:
    """The loopback Loki, counting the reads around split lines (queries with no line filter) and
    answering them with `fail` when set."""

    def __init__(self, fail: int | None = None) -> None:
        self.server = LokiServer()
        self.reads = 0
        self.fail = fail

    def push(self, service: str, start_ns: int, lines: list[str], n: int = 0) -> None:
        for i, text in enumerate(lines):
            labels = {"service_name": service, "env": "prod"}
            self.server.push(labels, start_ns + i * MICRO, text.replace("{n}", str(n)))

    def __call__(self, req: Request) -> Response | None:
        if req.path == "/loki/api/v1/query_range" and "|~" not in (req.param("query") or ""):
            self.reads += 1
            if self.fail is not None:
                return Response(self.fail, b"too many outstanding requests\n", {"Content-Type": "text/plain"})
        return self.server(req)


def _plan(loki: _Loki, tmp: Path, **config: Any) -> Plan:
    ops = tmp / f"ops-{len(list(tmp.iterdir()))}.git"
    env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1"}
    subprocess.run(["git", "init", "-q", "--bare", str(ops)], check=True, env=env)
    store = SeededStateStore(GitStateStore(str(ops), branch="state", work_dir=ops.with_suffix(".work")), lambda s: s)
    with LoopbackServer(loki) as server, build_client(server.url, org_id=None) as client:
        smap = ServiceMap.model_validate({
            "environments": {"prod": {"loki": {"url": server.url, "selector": '{env="prod"}', **config},
                                      "initial_lookback_s": 3600}},
            "services": {name: {"repo": f"acme/{name}"} for name in TRACES},
            "policy": {"max_incidents_per_run": 50},
        })  # fmt: skip
        source = LokiSource(client, smap.environments["prod"].loki)
        return plan(PlanRequest(("prod",)), smap=smap, sources={"prod": source}, store=store, clock=_Clock())


class _Clock:
    def now(self) -> datetime:
        return NOW


def test_each_split_trace_becomes_one_incident_with_its_stack(tmp_path: Path) -> None:
    loki = _Loki()
    for n, (service, lines) in enumerate(TRACES.items()):
        loki.push(service, NOW_NS - (20 - n) * 60 * SECOND, lines)
    result = _plan(loki, tmp_path)
    found = {i.incident.service: i.incident for i in result.incidents}
    assert len(result.incidents) == len(TRACES), [i.incident.title for i in result.incidents]  # no frame-line junk
    assert {s: (i.exception_type, i.count) for s, i in found.items()} == {
        "billing": ("KeyError", 1), "users": ("java.lang.NullPointerException", 1), "inventory": ("panic", 1),
        "web": ("TypeError", 1), "payments": ("System.InvalidOperationException", 1),
    }  # fmt: skip
    frames = {s: [f.function for f in i.stack.primary.frames] for s, i in found.items() if i.stack}
    assert frames["billing"] == ["invoice_total", "handle_create_invoice"]
    assert frames["users"][0] == "displayName"
    assert "Reserve" in frames["inventory"][1]
    assert frames["web"][:2] == ["renderCart", "handle"]
    assert frames["payments"][0].endswith("Settle")
    window = result.windows[0]
    assert (window.rejoined, loki.reads, window.rejoin_note) == (5, 5, "")


def test_without_reads_today_s_single_lines_stay(tmp_path: Path) -> None:
    loki = _Loki()
    loki.push("billing", NOW_NS - 60 * SECOND, PYTHON)
    result = _plan(loki, tmp_path, rejoin_queries=0)
    assert loki.reads == 0 and result.windows[0].rejoined == 0
    assert all(i.incident.stack is None for i in result.incidents)


def test_a_storm_of_one_split_bug_costs_a_read_or_two_and_is_one_incident(tmp_path: Path) -> None:
    loki = _Loki()
    for n in range(300):
        loki.push("billing", NOW_NS - 3000 * SECOND + n * 5 * SECOND, PYTHON, n)
    result = _plan(loki, tmp_path, page_limit=7)  # pages cut through traces
    assert loki.reads <= 3  # one a shape: with its logger's line, or without it when a page cut it off
    assert [(i.incident.exception_type, i.incident.count) for i in result.incidents] == [("KeyError", 300)]
    assert result.windows[0].rejoined == 300


def test_past_the_budget_pieces_stay_single_lines_and_the_window_says_so(tmp_path: Path) -> None:
    loki = _Loki()
    for n, (service, lines) in enumerate(TRACES.items()):
        loki.push(service, NOW_NS - (20 - n) * 60 * SECOND, lines)
    result = _plan(loki, tmp_path, rejoin_queries=2)
    window = result.windows[0]
    assert loki.reads == 2 and window.rejoined == 2
    assert "`rejoin_queries`" in window.rejoin_note and "left as single lines" in window.rejoin_note
    assert {i.incident.service for i in result.incidents} == set(TRACES)  # every bug still there


def test_loki_refusing_the_read_around_loses_nothing_and_the_poll_goes_on(tmp_path: Path) -> None:
    loki = _Loki(fail=400)
    for n, (service, lines) in enumerate(TRACES.items()):
        loki.push(service, NOW_NS - (20 - n) * 60 * SECOND, lines)
    result = _plan(loki, tmp_path)
    window = result.windows[0]
    assert loki.reads == 1  # the first refusal ends the reads for the run
    assert window.error is None and window.rejoined == 0
    assert "reading around them failed" in window.rejoin_note and "HTTP 400" in window.rejoin_note
    assert {i.incident.service for i in result.incidents} == set(TRACES)


def test_a_secret_only_the_read_around_brought_is_never_in_the_plan(tmp_path: Path) -> None:
    loki = _Loki()
    loki.push("billing", NOW_NS - 60 * SECOND, PYTHON)
    result = _plan(loki, tmp_path)
    assert result.windows[0].rejoined == 1
    text = result.model_dump_json()
    assert TOKEN not in text and TOKEN[4:20] not in text
    assert "invoice_total" in text  # the frames did arrive
