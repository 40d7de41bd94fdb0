"""What a writer tells the ledger about one checkout: the facts it knows now, each one optional
(None: not known to this writer). Plain data; the ledger decides what changes."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from decimal import Decimal
from typing import Any


@dataclass(frozen=True)
class Line:
    name: str
    quantity: int
    unit_amount: Decimal

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "quantity": self.quantity, "unit_amount": format(self.unit_amount, "f")}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Line:
        return cls(str(data["name"]), int(data["quantity"]), Decimal(str(data["unit_amount"])))


@dataclass(frozen=True)
class Entry:
    """`at`: when these facts were seen, by the kiosk's clock. A checkout is found by its
    transaction or its order, whichever the entry names."""

    at: float
    tx_id: str | None = None
    order_id: str | None = None
    status: str | None = None
    started_by_kind: str | None = None
    started_by: str | None = None
    display_id: str | None = None
    kiosk_ref: str | None = None
    reference: str | None = None
    lines: tuple[Line, ...] | None = None
    note: str | None = None
    amount: Decimal | None = None  # without the tip
    tip: Decimal | None = None
    currency: str | None = None
    coin: str | None = None
    network: str | None = None
    coin_amount: Decimal | None = None
    conversion_rate: Decimal | None = None
    exchange_fee: Decimal | None = None
    commission: Decimal | None = None
    address: str | None = None
    sequence_id: int | None = None
    upstream_status: str | None = None
    created: float | None = None
    deadline: float | None = None
    cancel_reason: str | None = None
    received: Decimal | None = None
    attention: frozenset[str] = field(default_factory=frozenset)

    def to_json(self) -> dict[str, Any]:
        """For keeping an entry the ledger could not take yet (amounts as text, exactly)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None:
                continue
            if isinstance(value, Decimal):
                value = format(value, "f")
            elif f.name == "lines":
                value = [line.to_json() for line in value]
            elif f.name == "attention":
                value = sorted(value)
            out[f.name] = value
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Entry:
        entry = cls(at=float(data["at"]))
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name not in data or f.name == "at":
                continue
            value = data[f.name]
            if f.name == "lines":
                value = tuple(Line.from_json(item) for item in value)
            elif f.name == "attention":
                value = frozenset(str(kind) for kind in value)
            elif f.type in ("Decimal | None",):
                value = Decimal(str(value))
            elif f.name in ("created", "deadline"):
                value = float(value)
            elif f.name == "sequence_id":
                value = int(value)
            values[f.name] = value
        return replace(entry, **values)
