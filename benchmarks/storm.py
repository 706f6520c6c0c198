"""An error storm: N log lines of B distinct bugs, ids and timestamps varying on every line, served by
a loopback Loki speaking the real `query_range` wire format (categorize-labels encoding, as recorded
in tests/fixtures/real/loki-server).

Line i is a pure function of (i, bugs): the server holds nothing and answers any page of the same
query identically, so the floor client and `plan` read exactly the same lines. Bug k is one of eight
shapes (the demo's four, a Go panic, a Node TypeError, a .NET exception, a Python KeyError in logfmt)
with a function or message word numbered k // 8, so `bugs` distinct fingerprints appear.

Run as a process of its own (`python -m benchmarks.storm --lines N --bugs B`): it prints its URL and the
first line's timestamp, and serves until killed, so neither its CPU nor its memory is measured with
the client's.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from error_autopilot.demo.httpserver import LoopbackServer, Request, Response

SPACING_NS = 1_800_000  # 1M lines per 30 minutes
MAX_ENTRIES = 5000
_M64 = (1 << 64) - 1

_SHAPES: tuple[tuple[dict[str, str], str], ...] = (
    ({"service_name": "user-service"},
     '{{"@timestamp": {ms}, "level": "ERROR", "logger_name": "com.acme.user.UserController", '
     '"message": "Request failed: GET /users/{a}", "stack_trace": "java.lang.NullPointerException\\n'
     '\\tat com.acme.user.UserService.displayName{v}(UserService.kt:31)\\n'
     '\\tat com.acme.user.UserController.get(UserController.kt:18)\\n'
     '\\tat org.springframework.web.servlet.FrameworkServlet.service(FrameworkServlet.java:885)", '
     '"trace_id": "{trace}", "span_id": "{span}"}}'),
    ({"service_name": "order-service"},
     "2026-11-25T03:{mm}:00.000Z ERROR [order-service,{trace},{span}] c.a.o.OrderService - Failed to place order {a}\n"
     "com.acme.order.UserServiceException: user-service answered 500 INTERNAL_SERVER_ERROR for user {b}\n"
     "\tat com.acme.order.UserClient.getUser{v}(UserClient.java:17)\n"
     "\tat com.acme.order.OrderService.placeOrder(OrderService.java:20)\n"
     "\tat com.acme.order.OrderController.create(OrderController.java:17)\n"
     "Caused by: org.springframework.web.client.HttpServerErrorException$InternalServerError: 500\n"
     "\tat org.springframework.web.client.DefaultResponseErrorHandler"
     ".handleError(DefaultResponseErrorHandler.java:102)\n"
     "\t... 3 more"),
    ({"service_name": "billing-service"},
     '{{"levelname": "ERROR", "name": "billing.api", "message": "invoice inv-{a} failed", "exc_info": '
     '"Traceback (most recent call last):\\n  File \\"/app/billing/api.py\\", line 12, in handle_create_invoice{v}\\n'
     '    total = invoice_total(payload)\\n  File \\"/app/billing/invoice.py\\", line 14, in invoice_total\\n'
     '    rate = RATES[invoice[\\"currency\\"]]\\nKeyError: \'currency\'", "otelTraceID": "{trace}", '
     '"otelSpanID": "{span}"}}'),
    ({"service_name": "order-service"},
     'level=error msg="Payment gateway timeout after {c} ms for order {a} in zone z{v}" caller=PaymentClient.java:9 '
     "traceparent=00-{trace}-{span}-01"),
    ({"service_name": "inventory"},
     "panic: runtime error: invalid memory address or nil pointer dereference\n"
     "[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x4a2b3c]\n\n"
     "goroutine {c} [running]:\n"
     "github.com/acme/inventory/stock.(*Store).Reserve{v}(0x0, {{0xc000123, 0x5}})\n"
     "\t/src/stock/store.go:88 +0x1d\nmain.main()\n\t/src/main.go:42 +0x85"),
    ({"service_name": "web"},
     "TypeError: Cannot read properties of undefined (reading 'id') at request {a}\n"
     "    at renderCart{v} (/app/src/cart.js:41:17)\n    at handle (/app/src/server.js:88:5)\n"
     "    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)"),
    ({"service_name": "payments"},
     "System.InvalidOperationException: Sequence contains no elements for payment {a}\n"
     "   at Acme.Payments.Ledger.Settle{v}(Int32 id) in /src/Payments/Ledger.cs:line 57\n"
     "   at Acme.Payments.Api.Post() in /src/Payments/Api.cs:line 21"),
    ({"service_name": "billing-service"},
     'level=error msg="reconcile batch {a} failed: KeyError: \'amount{v}\'" trace_id={trace} duration={c}ms'),
)  # fmt: skip

SERVICES = sorted({labels["service_name"] for labels, _ in _SHAPES})


def _mix(x: int) -> int:
    """A cheap deterministic 64-bit scramble (splitmix64), so ids look random but are reproducible."""
    x = (x + 0x9E3779B97F4A7C15) & _M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _M64
    return x ^ (x >> 31)


def line(i: int, bugs: int, base_ns: int) -> tuple[dict[str, str], int, str]:
    """(stream labels, timestamp, text) of line `i`."""
    r = _mix(i)
    bug = i % bugs
    labels, template = _SHAPES[bug % len(_SHAPES)]
    ts = base_ns + i * SPACING_NS
    text = template.format(
        ms=ts // 1_000_000, mm=f"{i % 60:02d}", a=4000 + r % 900_000, b=1000 + (r >> 20) % 9000,
        c=2000 + (r >> 40) % 2000,
        v="" if bug < len(_SHAPES) else bug // len(_SHAPES), trace=f"{_mix(r):016x}{_mix(r + 1):016x}",
        span=f"{_mix(r + 2):016x}",
    )  # fmt: skip
    return {**labels, "deployment_environment": "prod"}, ts, text


class StormLoki:
    """The app: `query_range` forward pages over lines [0, lines) of the storm."""

    def __init__(self, lines: int, bugs: int, base_ns: int) -> None:
        self.lines, self.bugs, self.base_ns = lines, bugs, base_ns

    def __call__(self, req: Request) -> Response | None:
        if req.path != "/loki/api/v1/query_range":
            return None
        start, end = int(req.param("start") or 0), int(req.param("end") or 2**63 - 1)
        limit = int(req.param("limit") or 100)
        if limit > MAX_ENTRIES:
            return Response.text(f"max entries limit per query exceeded ({limit} > {MAX_ENTRIES})\n", 400)
        first = max(0, -(-(start - self.base_ns) // SPACING_NS))
        stop = min(self.lines, max(0, -(-(end - self.base_ns) // SPACING_NS)), first + limit)
        streams: dict[str, dict[str, Any]] = {}
        for i in range(first, stop):
            labels, ts, text = line(i, self.bugs, self.base_ns)
            stream = streams.setdefault(labels["service_name"], {"stream": labels, "values": []})
            stream["values"].append([str(ts), text, {"structuredMetadata": {"detected_level": "error"}}])
        data = {"resultType": "streams", "encodingFlags": ["categorize-labels"], "result": list(streams.values()),
                "stats": {"summary": {"totalEntriesReturned": max(0, stop - first)}}}  # fmt: skip
        return Response.json({"status": "success", "data": data})


def main() -> int:
    """Serve a storm until killed; print `<url> <first timestamp>` once listening."""
    parser = argparse.ArgumentParser(prog="benchmarks.storm")
    parser.add_argument("--lines", type=int, required=True)
    parser.add_argument("--bugs", type=int, default=8)
    args = parser.parse_args()
    # the storm ends a minute before now: the whole of it is inside the first run's look-back
    base_ns = time.time_ns() - 60_000_000_000 - args.lines * SPACING_NS
    server = LoopbackServer(StormLoki(args.lines, args.bugs, base_ns)).start()
    sys.stdout.write(json.dumps({"url": server.url, "base_ns": base_ns}) + "\n")
    sys.stdout.flush()
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
