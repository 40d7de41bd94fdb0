"""The till API's objects: a display and a checkout as JSON, amounts as decimal strings, times as
ISO 8601 in UTC, null for what is not known (yet)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from ..displays import Display, Displays, Orders, OrderState
from ..money import rounded


def iso(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def dec(value: Decimal) -> str:
    """A decimal string, never in exponent notation."""
    return format(value, "f")


def display(item: Display, displays: Displays, orders: Orders) -> dict[str, Any]:
    return {"id": item.id, "name": item.name, "mode": item.mode, "online": displays.online(item),
            "busy": orders.busy(item), "last_seen_at": iso(displays.last_seen(item))}


def checkout(state: OrderState, orders: Orders) -> dict[str, Any]:
    """The checkout as a till sees it. The money facts come from the look just made, else from
    the last one the kiosk noted (a list or a webhook reads no upstream)."""
    order = state.order
    known = orders.known(order)
    view = state.view
    tx = view.tx if view is not None else None
    record = view.record if view is not None else None
    if record is None and (tx_id := orders.tx_of(order)) is not None:
        record = orders.checkout.record(tx_id)
    # The tip stays apart from `amount` (the till's own); `total_amount` is what the customer pays.
    tip = rounded(record.tip if record else orders.tip_of(order) or Decimal(0), order.currency)
    return {
        "id": order.id,
        "display_id": order.display,
        "status": state.status,
        "amount": str(order.amount),
        "tip_amount": dec(tip),
        "total_amount": dec(order.amount + tip),
        "ask_tip": order.ask_tip,
        "currency": order.currency,
        "reference": order.reference,
        "note": order.note,
        "lines": [{"name": ln.name, "quantity": ln.quantity, "unit_amount": str(ln.unit_amount)}
                  for ln in order.lines],
        "coin": record.coin if record else known.get("coin"),
        "network": record.network if record else known.get("network"),
        "coin_amount": dec(tx.coin_amount) if tx else known.get("coin_amount"),
        "received": dec(tx.total_transfer_amount) if tx else known.get("received"),
        "transaction_id": record.tx_id if record else known.get("transaction_id"),
        "sequence_id": (tx.sequence_id if tx else None) or known.get("sequence_id"),
        "cancel_reason": state.cancel_reason,
        "created_at": iso(order.created),
        "updated_at": iso(known.get("updated", order.created)),
        "deadline_at": iso(record.deadline if record else order.deadline),
    }
