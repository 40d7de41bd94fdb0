"""Paired customer displays: pairing codes, credentials, modes, and the orders sent to them.
Plain Python over the shared store: no Flask."""

from .models import (
    FINAL,
    REASONS,
    STATUSES,
    DisplayBusy,
    DisplayNotInTillMode,
    DisplayOffline,
    IdempotencyConflict,
    Line,
    Order,
    OrderEnded,
    OrderRefused,
    OrderState,
    parse_lines,
)
from .orders import Orders
from .registry import MODES, ONLINE_SECONDS, Code, Display, Displays, PairingError

__all__ = [
    "FINAL", "MODES", "ONLINE_SECONDS", "REASONS", "STATUSES", "Code", "Display", "DisplayBusy",
    "DisplayNotInTillMode", "DisplayOffline", "Displays", "IdempotencyConflict", "Line", "Order",
    "OrderEnded",    "OrderRefused", "OrderState", "Orders", "PairingError", "parse_lines",
]
