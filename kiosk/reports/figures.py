"""The figures of an X or Z report, from the checkouts it counts. Plain data in JSON's terms
(amounts as decimal strings), so a Z report's figures are stored once and read back unchanged."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from ..ledger.states import OPEN, STATUSES
from .export import checkout_id, source


def _money(value: Any) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value or 0))


class Tally:
    """A count and fiat totals (amount without the tip, the tip, and both), and coins."""

    def __init__(self) -> None:
        self.count = 0
        self.amount = Decimal(0)
        self.tip = Decimal(0)
        self.received = Decimal(0)

    def add(self, amount: Decimal, tip: Decimal, received: Decimal = Decimal(0)) -> None:
        self.count += 1
        self.amount += amount
        self.tip += tip
        self.received += received

    def json(self, **keys: str) -> dict[str, Any]:
        return {**keys, "count": self.count, "amount": f"{self.amount:f}", "tip": f"{self.tip:f}",
                "total": f"{self.amount + self.tip:f}", "received": f"{self.received:f}"}


class Block:
    """The figures of one currency: amounts of different currencies are never added up."""

    def __init__(self) -> None:
        self.statuses = {s: Tally() for s in STATUSES}
        self.paid, self.tips = Tally(), Decimal(0)
        self.coins: dict[tuple[str, str], Tally] = defaultdict(Tally)
        self.sources: dict[tuple[str, str], Tally] = defaultdict(Tally)
        self.cashiers: dict[str, Tally] = defaultdict(Tally)
        self.partial: dict[tuple[str, str], Tally] = defaultdict(Tally)
        self.open = Tally()

    def json(self, currency: str) -> dict[str, Any]:
        return {
            "currency": currency,
            "statuses": [t.json(status=s) for s, t in self.statuses.items()],
            "paid": self.paid.json(),
            "tips": f"{self.tips:f}",
            "coins": [t.json(coin=c, network=n) for (c, n), t in sorted(self.coins.items())],
            "sources": [t.json(source=s, display=d) for (s, d), t in sorted(self.sources.items())],
            "cashiers": [t.json(cashier=c) for c, t in sorted(self.cashiers.items())],
            "partial": [t.json(coin=c, network=n) for (c, n), t in sorted(self.partial.items())],
            "open": self.open.json(),
        }


def figures(lines: Iterable[Mapping[str, Any]], open_rows: Iterable[Mapping[str, Any]],
            currency: str) -> dict[str, Any]:
    """`lines`: the checkouts counted, each a ledger row with `late` (counted by an earlier
    report, changed since) and, when late, `was_status` and `was_received`. A late line counts
    by what it is now; what is paid counts once, in the report that first sees it paid.

    The figures are per currency (a shop may change KIOSK_CURRENCY between closings): the shop's
    `currency` at the top level, as a report has always read, and each other currency a row is
    in as a block of the same keys in `others`, by code. Late adjustments and the count of sales
    needing attention are one list and one count, each late line with its currency."""
    blocks: dict[str, Block] = defaultdict(Block)
    blocks[currency] = Block()
    late: list[dict[str, Any]] = []
    attention = 0
    for row in lines:
        amount, tip, received = _money(row["amount"]), _money(row["tip"]), _money(row["received"])
        status = row["status"]
        block = blocks[row.get("currency") or currency]
        block.statuses[status].add(amount, tip)
        coin = (row["coin"] or "", row["network"] or "")
        kind = source(row)
        if status == "paid":
            block.paid.add(amount, tip)
            block.tips += tip
            block.coins[coin].add(amount, tip, received)
            block.sources[(kind, row["display_id"] or "")].add(amount, tip)
            if kind in ("console", "till") and row["started_by"]:
                block.cashiers[row["started_by"]].add(amount, tip)
        elif status == "partial":
            before = _money(row["was_received"]) if row.get("late") and row.get("was_status") == "partial" \
                else Decimal(0)
            block.partial[coin].add(amount, tip, received - before)
        if row.get("attention"):
            attention += 1
        if row.get("late"):
            late.append({"checkout_id": checkout_id(row), "reference": row["reference"] or "",
                         "was": row["was_status"], "status": status, "total": f"{amount + tip:f}",
                         "received": f"{received:f}", "coin": coin[0],
                         "currency": row.get("currency") or currency})
    for row in open_rows:
        if row["status"] in OPEN:
            blocks[row.get("currency") or currency].open.add(_money(row["amount"]), _money(row["tip"]))
    return {
        **blocks[currency].json(currency),
        "others": [blocks[code].json(code) for code in sorted(blocks) if code != currency],
        "late": late,
        "attention": attention,
    }

