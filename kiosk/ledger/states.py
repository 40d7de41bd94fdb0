"""The status words of a checkout, the same everywhere (screens, console, till API, webhooks,
logs, the ledger), and which way a status may move."""

from __future__ import annotations

STATUSES = ("pending", "waiting", "partly_paid", "paid", "cancelled", "expired", "partial", "see_cashier")
OPEN = frozenset({"pending", "waiting", "partly_paid"})
FINAL = frozenset(STATUSES) - OPEN

# A status moves only up. The open ones in their order; then the ends, where coins arriving after
# the kiosk closed a checkout still move it: to partial (part of the money) or paid (all of it).
# cancelled, expired and see_cashier are one rank: the first of them noted stays.
RANK = {"pending": 0, "waiting": 1, "partly_paid": 2,
        "cancelled": 3, "expired": 3, "see_cashier": 3, "partial": 4, "paid": 5}

# What a person at the shop has to look at, as the operator's "Today" names it.
ATTENTION = ("paid_late", "partial_late", "partial", "see_cashier", "unknown", "ended_upstream")


def moves(old: str, new: str) -> bool:
    """Whether a checkout at `old` goes to `new`: never back, never sideways between ends."""
    return new in RANK and RANK[new] > RANK.get(old, -1)
