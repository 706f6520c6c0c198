"""Synthetic but realistic error lines: the shapes the parsers meet in production, with varying ids."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from typing import Any

_JVM = (
    "2026-11-25T03:00:00.000Z ERROR [order-service,{trace},{span}] c.a.o.OrderService - Failed to place order {n}\n"
    "com.acme.order.UserServiceException: user-service answered 500 for user {m}\n"
    "\tat com.acme.order.UserClient.getUser(UserClient.java:17)\n"
    "\tat com.acme.order.OrderService.placeOrder(OrderService.java:20)\n"
    "\tat com.acme.order.OrderController.create(OrderController.java:17)\n"
    "\tat org.springframework.web.servlet.FrameworkServlet.service(FrameworkServlet.java:885)\n"
    "Caused by: java.net.SocketTimeoutException: Read timed out\n"
    "\tat java.base/java.net.SocketInputStream.socketRead0(Native Method)\n"
    "\t... 3 more"
)
_PY = (
    "Traceback (most recent call last):\n"
    '  File "/app/billing/api.py", line 12, in handle_create_invoice\n'
    "    total = invoice_total(payload)\n"
    '  File "/app/billing/invoice.py", line 14, in invoice_total\n'
    '    rate = RATES[invoice["currency"]]\n'
    "KeyError: 'currency'"
)
_GO = (
    "panic: runtime error: invalid memory address or nil pointer dereference\n"
    "[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x4a2b3c]\n\n"
    "goroutine {n} [running]:\n"
    "github.com/acme/inventory/stock.(*Store).Reserve(0x0, {{0xc000123, 0x5}})\n"
    "\t/src/stock/store.go:88 +0x1d\n"
    "main.main()\n\t/src/main.go:42 +0x85"
)


def lines(count: int, seed: int = 11) -> Iterator[tuple[dict[str, str], str]]:
    """(stream labels, line) pairs mixing JVM text, JSON+Python, Go panics and logfmt."""
    rng = random.Random(seed)
    for i in range(count):
        trace, span = f"{rng.getrandbits(128):032x}", f"{rng.getrandbits(64):016x}"
        kind = i % 4
        if kind == 0:
            yield {"service_name": "order-service"}, _JVM.format(trace=trace, span=span, n=i, m=rng.randrange(10**6))
        elif kind == 1:
            body = {"level": "ERROR", "message": f"invoice inv-{i} failed", "exc_info": _PY, "trace_id": trace}
            yield {"service_name": "billing-service"}, json.dumps(body)
        elif kind == 2:
            yield {"service_name": "inventory"}, _GO.format(n=rng.randrange(1, 500))
        else:
            yield (
                {"service_name": "order-service"},
                f'level=error msg="Payment gateway timeout after {rng.randrange(2000, 4000)} ms for order {i}" '
                f"trace_id={trace}",
            )


def loki_pages(count: int, page_size: int, start_ns: int) -> list[bytes]:
    """`count` lines as Loki query_range response bodies of `page_size` entries each."""
    pages: list[bytes] = []
    batch: dict[str, dict[str, Any]] = {}
    in_page = 0
    for i, (labels, line) in enumerate(lines(count)):
        key = json.dumps(labels, sort_keys=True)
        stream = batch.setdefault(key, {"stream": labels, "values": []})
        stream["values"].append([str(start_ns + i * 1_000_000), line])
        in_page += 1
        if in_page == page_size:
            pages.append(_body(batch))
            batch, in_page = {}, 0
    if batch:
        pages.append(_body(batch))
    return pages


def _body(batch: dict[str, dict[str, Any]]) -> bytes:
    data = {"status": "success", "data": {"resultType": "streams", "result": list(batch.values()), "stats": {}}}
    return json.dumps(data).encode()
