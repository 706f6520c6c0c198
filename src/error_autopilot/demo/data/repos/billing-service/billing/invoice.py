"""Invoice totals."""

from decimal import Decimal

RATES = {"EUR": Decimal("1.00"), "USD": Decimal("0.92"), "GBP": Decimal("1.17")}


def line_total(line: dict) -> Decimal:
    return Decimal(line["unit_price"]) * int(line["quantity"])


def invoice_total(invoice: dict) -> Decimal:
    subtotal = sum((line_total(line) for line in invoice["lines"]), Decimal(0))
    rate = RATES[invoice["currency"]]
    return (subtotal * rate).quantize(Decimal("0.01"))
