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


def figures(lines: Iterable[Mapping[str, Any]], open_rows: Iterable[Mapping[str, Any]],
            currency: str) -> dict[str, Any]:
    """`lines`: the checkouts counted, each a ledger row with `late` (counted by an earlier
    report, changed since) and, when late, `was_status` and `was_received`. A late line counts
    by what it is now; what is paid counts once, in the report that first sees it paid."""
    statuses = {s: Tally() for s in STATUSES}
    paid, tips = Tally(), Decimal(0)
    coins: dict[tuple[str, str], Tally] = defaultdict(Tally)
    sources: dict[tuple[str, str], Tally] = defaultdict(Tally)
    cashiers: dict[str, Tally] = defaultdict(Tally)
    partial: dict[tuple[str, str], Tally] = defaultdict(Tally)
    late: list[dict[str, Any]] = []
    attention = 0
    for row in lines:
        amount, tip, received = _money(row["amount"]), _money(row["tip"]), _money(row["received"])
        status = row["status"]
        statuses[status].add(amount, tip)
        coin = (row["coin"] or "", row["network"] or "")
        kind = source(row)
        if status == "paid":
            paid.add(amount, tip)
            tips += tip
            coins[coin].add(amount, tip, received)
            sources[(kind, row["display_id"] or "")].add(amount, tip)
            if kind in ("console", "till") and row["started_by"]:
                cashiers[row["started_by"]].add(amount, tip)
        elif status == "partial":
            before = _money(row["was_received"]) if row.get("late") and row.get("was_status") == "partial" \
                else Decimal(0)
            partial[coin].add(amount, tip, received - before)
        if row.get("attention"):
            attention += 1
        if row.get("late"):
            late.append({"checkout_id": checkout_id(row), "reference": row["reference"] or "",
                         "was": row["was_status"], "status": status, "total": f"{amount + tip:f}",
                         "received": f"{received:f}", "coin": coin[0]})
    still_open = Tally()
    for row in open_rows:
        if row["status"] in OPEN:
            still_open.add(_money(row["amount"]), _money(row["tip"]))
    return {
        "currency": currency,
        "statuses": [t.json(status=s) for s, t in statuses.items()],
        "paid": paid.json(),
        "tips": f"{tips:f}",
        "coins": [t.json(coin=c, network=n) for (c, n), t in sorted(coins.items())],
        "sources": [t.json(source=s, display=d) for (s, d), t in sorted(sources.items())],
        "cashiers": [t.json(cashier=c) for c, t in sorted(cashiers.items())],
        "partial": [t.json(coin=c, network=n) for (c, n), t in sorted(partial.items())],
        "late": late,
        "open": still_open.json(),
        "attention": attention,
    }
