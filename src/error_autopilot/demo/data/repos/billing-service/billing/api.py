"""HTTP handlers."""

import logging

from billing.invoice import invoice_total

log = logging.getLogger(__name__)


def handle_create_invoice(payload: dict) -> dict:
    try:
        total = invoice_total(payload)
    except Exception:
        log.exception("invoice %s failed", payload.get("id"))
        raise
    return {"id": payload["id"], "total": str(total)}
