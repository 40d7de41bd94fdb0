"""One checkout from start to result: plain Python over the Cryptom client and the local store.

`Checkout` gathers the parts, each in a module named for what it does: start (one upstream
transaction per checkout), look (read and decide), cancel, attention (items for the operator)
and watch (what the watcher does without a screen). Screens, the operator and the jobs all call
the same methods.
"""

from __future__ import annotations

from collections.abc import Callable

from .. import money
from ..clock import now as clock_now
from ..cryptom import CryptomClient
from .attention import Attention
from .base import Follower
from .cancel import Cancelling
from .look import Looking
from .rates import StoreStorage, Window
from .record import Recent, Record
from .store import Store
from .watch import Watching

WATCH_INTERVAL = 15.0


class Checkout(Watching, Looking, Cancelling, Attention):
    def __init__(
        self,
        client: CryptomClient,
        store: Store,
        *,
        payment_timeout: int,
        currency: str = money.DEFAULT,
        create_limit: Window | None = None,
        share_seconds: float = 0.0,
        watch_interval: float = WATCH_INTERVAL,
        clock: Callable[[], float] = clock_now,
    ) -> None:
        self.client = client
        self.store = store
        self.payment_timeout = payment_timeout
        self.currency = currency
        # New payments per kiosk session and per client address (kiosk.services counts them
        # where every worker and host sees them; alone, in this store).
        self.create_limit = create_limit or Window(StoreStorage(store=store), "create", (10, 60))
        self.share_seconds = share_seconds
        self.watch_interval = watch_interval
        self.clock = clock
        self._last_seen = Recent()  # transactions, for display while upstream is away
        self._qr = Recent()  # QR images: the same for the whole life of a transaction
        # Told of every lifecycle event (the orders of tills and the console follow their checkout).
        self.listeners: list[Callable[[Record, dict[str, str]], None]] = []
        # Told of every Change with its upstream transaction, and of attention items (the ledger).
        self.followers: list[Follower] = []

    def open_of(self, owner: str) -> list[Record]:
        """The checkouts `owner` started that have no result yet. Only those started within the
        payment timeout (and a minute) can be open: the watcher ends the older ones."""
        now = self.clock()
        found = []
        for tx_id, _started in self.store.scheduled("records", now, now - self.payment_timeout - 60):
            record = self.record_for(tx_id, owner)
            if record is not None and self.store.get(f"final:{tx_id}") is None:
                found.append(record)
        return found
