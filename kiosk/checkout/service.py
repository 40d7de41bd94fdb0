"""One checkout from start to result: plain Python over the Cryptom client, the ledger and the
local store.

`Checkout` builds the parts, each in a module named for what it does, and hands each what it
needs: start (one upstream transaction per checkout), look (read and decide), cancel, attention
(items for the operator) and watch (what the watcher does without a screen). Every change of a
checkout's state is a step of the state machine (states) that the runner carries out. Screens,
the operator, displays, orders and the jobs all call the same methods of this facade.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from .. import money
from ..clock import now as clock_now
from ..cryptom import CryptomClient, Transaction
from ..ledger import FINAL, Ledger
from .attention import Attention
from .base import RECORDS, Follower, Listener, Memory, Namer, Records, Teller, Timetable
from .cancel import Cancel
from .look import Look
from .outcome import Outcome
from .rates import StoreStorage, Window
from .record import Record, View
from .runner import Runner
from .start import Attempt, OrderLink, Start
from .store import Store
from .watch import Findings, Watch

WATCH_INTERVAL = 15.0
# Settings a test or the operator's tools may change on a running facade: the parts are built anew.
REBUILT = frozenset({"client", "store", "ledger", "clock", "share_seconds", "watch_interval",
                     "payment_timeout", "currency", "create_limit"})


class Checkout:
    def __init__(
        self,
        client: CryptomClient,
        store: Store,
        *,
        ledger: Ledger,
        payment_timeout: int,
        currency: str = money.DEFAULT,
        create_limit: Window | None = None,
        share_seconds: float = 0.0,
        watch_interval: float = WATCH_INTERVAL,
        clock: Callable[[], float] = clock_now,
    ) -> None:
        self._ready = False
        self.client = client
        self.store = store
        self.ledger = ledger
        self.payment_timeout = payment_timeout
        self.currency = currency
        # New payments per kiosk session and per client address (kiosk.services counts them
        # where every worker and host sees them; alone, in this store).
        self.create_limit = create_limit or Window(StoreStorage(store=store), "create", (10, 60))
        self.share_seconds = share_seconds
        self.watch_interval = watch_interval
        self.clock = clock
        self.memory = Memory()  # transactions and QR images this process has seen
        # Told of every lifecycle event (the orders of tills and the console follow their checkout).
        self.listeners: list[Listener] = []
        # Told of every Change with its upstream transaction, and of attention items.
        self.followers: list[Follower] = []
        # Asked how the shop names a sale, for the log lines (the reference a till or console gave).
        self.namers: list[Namer] = []
        self._ready = True
        self._build()

    def __setattr__(self, name: str, value: Any) -> None:
        super().__setattr__(name, value)
        if name in REBUILT and self.__dict__.get("_ready"):
            self._build()

    def _build(self) -> None:
        """The parts, each given what it needs."""
        clock = self.clock
        records = Records(self.store)
        teller = Teller(self.currency, self.memory, clock, self.listeners, self.followers, self.namers)
        timetable = Timetable(self.store, self)  # wakes the job queue: base.watch_due
        runner = Runner(self.client, self.store, self.ledger, teller, self.memory, currency=self.currency,
                        share_seconds=self.share_seconds, watch_interval=self.watch_interval, clock=clock)
        cancels = Cancel(self.client, records, runner)
        looks = Look(self.client, records, runner, self.memory, share_seconds=self.share_seconds)
        attention = Attention(self.client, self.ledger, records, runner, teller, clock)
        starts = Start(self.client, self.store, records, runner, cancels, timetable, currency=self.currency,
                       payment_timeout=self.payment_timeout, create_limit=self.create_limit,
                       watch_interval=self.watch_interval, clock=clock)
        watches = Watch(self.client, self.store, records, runner, starts, cancels, attention, timetable,
                        self.memory, payment_timeout=self.payment_timeout, watch_interval=self.watch_interval,
                        share_seconds=self.share_seconds, clock=clock)
        parts = {"records": records, "teller": teller, "timetable": timetable, "runner": runner,
                 "cancels": cancels, "looks": looks, "attentions": attention, "starts": starts,
                 "watches": watches}
        self.__dict__.update(parts)  # not through __setattr__: no rebuild

    # -- the parts, by name (for mypy: set in _build) ------------------------------------------
    records: Records
    teller: Teller
    timetable: Timetable
    runner: Runner
    cancels: Cancel
    looks: Look
    attentions: Attention
    starts: Start
    watches: Watch

    # -- start ---------------------------------------------------------------------------------

    def start(self, nonce: str | None, amount: Decimal, coin: str, network: str,
              user_mobile: str | None = None, status_note: str | None = None,
              limit_keys: tuple[str, ...] = (), owner: str | None = None, display: str | None = None,
              order: str | None = None, tip: Decimal = Decimal(0)) -> str:
        return self.starts.start(nonce, amount, coin, network, user_mobile, status_note, limit_keys, owner,
                                 display, order, tip)

    def order_link(self, order: str) -> OrderLink | None:
        return self.starts.order_link(order)

    def order_checkout(self, order: str, amount: Decimal, display: str | None,
                       tx_hint: str | None = None) -> Record | None:
        return self.starts.order_checkout(order, amount, display, tx_hint)

    def end_order(self, order: str, reason: str) -> bool:
        return self.starts.end_order(order, reason)

    def start_sent_at(self, order: str) -> float | None:
        return self.starts.start_sent_at(order)

    def find_created(self, attempt: Attempt) -> Transaction | None:
        return self.starts.find_created(attempt)

    # -- look ----------------------------------------------------------------------------------

    def record(self, tx_id: str) -> Record | None:
        return self.looks.record(tx_id)

    def record_for(self, tx_id: str, owner: str | None) -> Record | None:
        return self.looks.record_for(tx_id, owner)

    def view(self, record: Record) -> View:
        return self.looks.view(record)

    def is_closed(self, tx_id: str) -> bool:
        return self.looks.is_closed(tx_id)

    def last_outcome(self, tx_id: str) -> Outcome:
        return self.looks.last_outcome(tx_id)

    def cancel_reason(self, tx_id: str) -> str | None:
        return self.looks.cancel_reason(tx_id)

    def qr_png(self, record: Record) -> bytes | None:
        return self.looks.qr_png(record)

    def open_of(self, owner: str) -> list[Record]:
        """The checkouts `owner` started that have no result yet. Only those started within the
        payment timeout (and a minute) can be open: the watcher ends the older ones."""
        now = self.clock()
        found = []
        for tx_id, _started in self.store.scheduled(RECORDS, now, now - self.payment_timeout - 60):
            record = self.record_for(tx_id, owner)
            if record is not None:
                row = self.looks._row(tx_id)
                if row is None or row["status"] not in FINAL:
                    found.append(record)
        return found

    # -- cancel --------------------------------------------------------------------------------

    def cancel(self, record: Record, reason: str = "customer") -> View:
        return self.cancels.cancel(record, reason)

    def cancel_by_operator(self, tx_id: str) -> None:
        self.cancels.cancel_by_operator(tx_id)

    # -- attention -----------------------------------------------------------------------------

    def note(self, tx_id: str, kind: str, amount: str, coin: str, network: str,
             tx: Transaction | None) -> None:
        self.attentions.note(tx_id, kind, amount, coin, network, tx)

    def observe(self, transactions: list[Transaction]) -> None:
        self.attentions.observe(transactions)

    def lookup(self, tx_id: str) -> Transaction:
        return self.attentions.lookup(tx_id)

    def dismiss(self, tx_id: str) -> None:
        self.attentions.dismiss(tx_id)

    def attention(self) -> list[tuple[str, dict[str, Any]]]:
        return self.attentions.items()

    # -- watch ---------------------------------------------------------------------------------

    def watch(self, tx_id: str, due_at: float | None = None) -> float | None:
        return self.watches.watch(tx_id, due_at)

    def watch_at(self, tx_id: str, at: float) -> None:
        self.timetable.watch_at(tx_id, at)

    def watched(self) -> int:
        return self.watches.watched()

    def overdue(self, lag: float, limit: int = 500) -> list[tuple[str, float]]:
        return self.watches.overdue(lag, limit)

    def unanswered(self, until: float | None = None, limit: int = 100) -> list[str]:
        return self.watches.unanswered(until, limit)

    def resolve_create(self, ref: str) -> None:
        self.watches.resolve_create(ref)

    def reconcile(self, window: float | None = None) -> Findings:
        return self.watches.reconcile() if window is None else self.watches.reconcile(window)
