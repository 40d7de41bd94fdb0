"""The rules of one checkout. Plain Python: no Flask, no HTTP of its own."""

from .outcome import Outcome, decide
from .record import CheckoutError, Record, StartLimited, StartRejected, StartUnavailable, View
from .service import Checkout
from .store import LocalStore, RedisStore, Store

__all__ = [
    "Checkout",
    "CheckoutError",
    "LocalStore",
    "Outcome",
    "Record",
    "RedisStore",
    "StartLimited",
    "StartRejected",
    "StartUnavailable",
    "Store",
    "View",
    "decide",
]
