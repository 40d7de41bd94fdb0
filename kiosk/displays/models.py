"""What an order is: the lines, the order a till or the console sends a display, where it
stands, and why one is refused. Plain data; the rules that move an order are in orders.py."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from .. import money
from ..checkout.inputs import N_, InputError
from ..checkout.record import CheckoutError, View

# The status words of a checkout, the same in the console, the till API, webhooks and logs.
STATUSES = ("pending", "waiting", "partly_paid", "paid", "cancelled", "expired", "partial", "see_cashier")
FINAL = frozenset({"paid", "cancelled", "expired", "partial", "see_cashier"})
REASONS = ("customer", "till", "operator", "deadline")
LINES_MAX = 50
LINE_NAME_MAX = 80
QUANTITY_MAX = 9999
UNIT_AMOUNT = re.compile(r"[0-9]+(\.[0-9]+)?")  # as the OpenAPI document's pattern


class OrderRefused(CheckoutError):
    """An order was not sent or not started; `code` names why (the till API's error codes)."""

    code = "refused"


class DisplayBusy(OrderRefused):
    code = "display_busy"


class DisplayOffline(OrderRefused):
    code = "display_offline"


class DisplayNotInTillMode(OrderRefused):
    code = "display_mode"


class IdempotencyConflict(OrderRefused):
    """The same idempotency key came with another order: nothing was sent."""

    code = "idempotency_conflict"


class OrderEnded(OrderRefused):
    """The order was cancelled or expired before the customer picked a coin."""

    code = "order_ended"


@dataclass(frozen=True)
class Line:
    name: str
    quantity: int
    unit_amount: Decimal

    @property
    def total(self) -> Decimal:
        return self.unit_amount * self.quantity


@dataclass(frozen=True)
class Order:
    id: str
    display: str
    amount: Decimal
    currency: str
    reference: str | None
    note: str | None
    lines: tuple[Line, ...]
    created: float
    deadline: float  # for the customer to pick a coin; the checkout then has its own
    source: str = "console"  # or "api"
    tx: str | None = None
    ask_tip: bool = True  # the display offers its tip screen (when the kiosk has KIOSK_TIPS)

    def dumps(self) -> str:
        return json.dumps({
            "id": self.id, "display": self.display, "amount": str(self.amount), "currency": self.currency,
            "reference": self.reference, "note": self.note, "created": self.created,
            "deadline": self.deadline, "source": self.source, "tx": self.tx, "ask_tip": self.ask_tip,
            "lines": [[ln.name, ln.quantity, str(ln.unit_amount)] for ln in self.lines],
        })

    @classmethod
    def loads(cls, text: str) -> Order:
        d = json.loads(text)
        lines = tuple(Line(str(n), int(q), Decimal(u)) for n, q, u in d.get("lines") or ())
        return cls(d["id"], d["display"], Decimal(d["amount"]), d["currency"], d.get("reference"),
                   d.get("note"), lines, float(d["created"]), float(d["deadline"]),
                   d.get("source") or "console", d.get("tx"), d.get("ask_tip") is not False)


@dataclass(frozen=True)
class OrderState:
    """An order and where it stands. `view` is there once a transaction exists and was looked
    at: received and due amounts, the coin, the upstream reference."""

    order: Order
    status: str
    view: View | None = None
    cancel_reason: str | None = None

    @property
    def final(self) -> bool:
        return self.status in FINAL


def parse_lines(raw: Any, amount: Decimal, currency: str, *, add_up: bool = True) -> tuple[Line, ...]:
    """Lines a till sends: [{"name", "quantity", "unit_amount"}], adding up to the amount
    (checked apart with `add_up=False`: the till API tells a bad line from a wrong total)."""
    if raw in (None, []):
        return ()
    if not isinstance(raw, list) or len(raw) > LINES_MAX:
        raise InputError(N_("At most %(max)d lines, each with a name, a quantity and a unit amount."),
                         max=LINES_MAX)
    lines = []
    for item in raw:
        if not isinstance(item, dict):
            raise InputError(N_("At most %(max)d lines, each with a name, a quantity and a unit amount."),
                             max=LINES_MAX)
        raw_name, quantity, unit = item.get("name"), item.get("quantity"), item.get("unit_amount")
        name = " ".join(raw_name.split()) if isinstance(raw_name, str) else ""
        if not name or len(name) > LINE_NAME_MAX or not name.isprintable():
            raise InputError(N_("Each line needs a name of at most %(max)d characters."), max=LINE_NAME_MAX)
        if isinstance(quantity, bool) or not isinstance(quantity, int) or not 1 <= quantity <= QUANTITY_MAX:
            raise InputError(N_("A quantity is a whole number from 1 to %(max)d."), max=QUANTITY_MAX)
        # Written as the contract's pattern says: Decimal alone would also read "٣٠", "3_0",
        # "3E+1", " 30" and "-0.00".
        price = Decimal(unit) if isinstance(unit, str) and UNIT_AMOUNT.fullmatch(unit) else None
        if price is None or price > amount or not money.is_exact(price, currency):
            raise InputError(N_("A unit amount is written like %(example)s."),
                             example=str(money.rounded(Decimal(15), currency)))
        lines.append(Line(name, quantity, money.rounded(price, currency)))
    return check_total(tuple(lines), amount) if add_up else tuple(lines)


def check_total(lines: tuple[Line, ...], amount: Decimal) -> tuple[Line, ...]:
    """Lines, when there are any, add up to the amount exactly."""
    total = sum((ln.total for ln in lines), Decimal(0))
    if lines and total != amount:
        raise InputError(N_("The lines add up to %(amount)s, not to the amount."), total)
    return lines


