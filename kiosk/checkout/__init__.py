"""The rules of one checkout. Plain Python: no Flask, no HTTP of its own."""

from .outcome import Outcome, decide
from .service import Checkout, CheckoutError, Record, StartRejected, StartUnavailable, View
from .store import LocalStore

__all__ = [
    "Checkout", "CheckoutError", "LocalStore", "Outcome", "Record", "StartRejected",
    "StartUnavailable", "View", "decide",
]
