"""What the kiosk itself knows of one checkout, what a screen gets back, and the errors of a start."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from cachetools import LRUCache

from ..cryptom import Transaction
from .outcome import Outcome

# What reading a stored entry that is not what this kiosk writes raises (hand-edited, another
# version, or planted by whoever can write the fleet's Redis).
UNREADABLE = (ValueError, KeyError, TypeError, ArithmeticError)
RECORD_TTL = 15 * 24 * 3600  # upstream reserves the wallet for two weeks
GUARD_TTL = 24 * 3600
MEMORY_ITEMS = 512  # per process: last-seen transactions and QR images


class Recent:
    """A small least-recently-used map, safe between threads (cachetools' LRU under a lock)."""

    def __init__(self, size: int = MEMORY_ITEMS) -> None:
        self._items: LRUCache[str, Any] = LRUCache(maxsize=size)
        self.lock = threading.Lock()

    def get_item(self, key: str) -> Any:
        with self.lock:
            return self._items.get(key)  # a hit counts as a use

    def put(self, key: str, value: Any) -> None:
        with self.lock:
            self._items[key] = value

    def drop(self, key: str) -> None:
        with self.lock:
            self._items.pop(key, None)

    def __len__(self) -> int:
        with self.lock:
            return len(self._items)


class CheckoutError(Exception):
    """A checkout could not start; the message is safe to show."""


class StartUnavailable(CheckoutError):
    """Upstream did not answer; nothing was created, or nothing we could find."""


class StartRejected(CheckoutError):
    """Upstream refused the payment request."""


class OrderTaken(CheckoutError):
    """The order the checkout was started for ended (or has its transaction) meanwhile: the
    transaction just made is not the order's, and was cancelled."""


class StartLimited(CheckoutError):
    """Too many new payments from this kiosk or address: each one reserves a wallet address
    upstream for two weeks, so a playful customer must not drain the merchant's pool."""


@dataclass(frozen=True)
class Record:
    """What the kiosk itself knows of a checkout it started. `ref` is the kiosk's own reference,
    sent upstream in `statusNote`, by which a create that got no answer is found again."""

    tx_id: str
    amount: Decimal
    coin: str
    network: str
    created: float
    deadline: float
    owner: str | None = None  # who started it (see ownership); None: recorded before owners were
    ref: str = ""
    display: str | None = None  # the paired display that showed it
    order: str | None = None  # the order a till or the console sent, when it came from one
    tip: Decimal = Decimal(0)  # beside `amount`, never in it: upstream was asked for `total`

    @property
    def total(self) -> Decimal:
        return self.amount + self.tip

    def dumps(self) -> str:
        data = {
            "tx_id": self.tx_id, "amount": str(self.amount), "coin": self.coin,
            "network": self.network, "created": self.created, "deadline": self.deadline,
            "owner": self.owner, "ref": self.ref,
        }
        data.update({k: v for k, v in (("display", self.display), ("order", self.order)) if v})
        if self.tip:
            data["tip"] = str(self.tip)
        return json.dumps(data)

    @classmethod
    def loads(cls, text: str) -> Record:
        data = json.loads(text)
        return cls(data["tx_id"], Decimal(data["amount"]), data["coin"], data["network"],
                   float(data["created"]), float(data["deadline"]), data.get("owner"),
                   str(data.get("ref") or ""), data.get("display"), data.get("order"),
                   Decimal(data.get("tip") or 0))


@dataclass(frozen=True)
class View:
    """What a screen needs: the outcome, the transaction (None while upstream is unreachable
    and nothing was seen yet) and whether upstream is answering right now."""

    record: Record
    outcome: Outcome
    tx: Transaction | None
    reconnecting: bool = False
    notice: str | None = None

    def remaining(self, now: float) -> int:
        return max(0, int(self.record.deadline - now + 0.999))
