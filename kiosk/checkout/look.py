"""Looking at a checkout: read upstream, decide, and note what a final outcome means.

The customer's screen, the result page, the operator and the watcher all look through here, so
one rule decides everywhere and each change of state is noted once.
"""

from __future__ import annotations

import io
import json
from decimal import Decimal

import segno

from ..cryptom import CryptomError, NotFound, Status, Transaction, Unavailable
from . import ownership
from .base import Base, log
from .outcome import ENDED, Outcome, decide
from .record import RECORD_TTL, UNREADABLE, Record, View

LOST_GRACE = 60.0  # a transaction upstream says it does not know is lost only after this long
LOST_ANSWERS = 3  # ... and this many "not found" answers: one 404 may be a passing fault


class Looking(Base):
    def record(self, tx_id: str) -> Record | None:
        """Any checkout this kiosk recorded, whoever started it: for the operator area and the
        watcher only."""
        text = self.store.get(f"tx:{tx_id}")
        if not text:
            return None
        try:
            return Record.loads(text)
        except UNREADABLE:
            log.warning("the record of %s cannot be read: set aside as unknown", tx_id)
            return None

    def record_for(self, tx_id: str, owner: str | None) -> Record | None:
        """The checkout if `owner` started it; None, as for an unknown id, to anyone else."""
        record = self.record(tx_id) if owner else None
        return record if record is not None and ownership.owns(record, owner) else None

    def view(self, record: Record) -> View:
        """The state of a checkout now; cancels upstream once the kiosk's deadline has passed.
        Two tabs, a reload or the result screen right after a poll share one upstream answer."""
        return self._look(record, expire=True, max_age=self.share_seconds)

    def is_closed(self, tx_id: str) -> bool:
        """Known to have reached a result already (no upstream call)."""
        return self.store.get(f"final:{tx_id}") is not None

    def last_outcome(self, tx_id: str) -> Outcome:
        """What the kiosk last decided for a transaction, from the store alone (no upstream call):
        for lists that must not ask upstream about every row."""
        final = self.store.get(f"final:{tx_id}")
        if final is not None:
            return Outcome(final)
        return Outcome.PARTLY_PAID if self.store.get(f"partly:{tx_id}") else Outcome.WAITING

    def cancel_reason(self, tx_id: str) -> str | None:
        """Who cancelled it: customer, till, operator or deadline (None: nobody asked to)."""
        return self._reason(tx_id)

    def _detail(self, tx_id: str, max_age: float) -> Transaction:
        """The transaction, or an answer someone else got less than `max_age` seconds ago."""
        key = f"detail:{tx_id}"
        if max_age > 0:
            cached = self.store.get(key)
            if cached is not None:
                data = json.loads(cached, parse_float=Decimal)
                if self.clock() - float(data["at"]) < max_age:
                    return Transaction.from_json(data["tx"])
        tx = self.client.transaction(tx_id)
        if self.share_seconds > 0:
            self.store.set(key, json.dumps({"at": self.clock(), "tx": tx.raw}, default=str),
                           ttl=max(self.share_seconds, self.watch_interval))
        return tx

    def _look(self, record: Record, *, expire: bool, max_age: float = 0.0) -> View:
        """Read the transaction and decide. `expire`: cancel it if the deadline has passed;
        without it (right after a cancel) a transaction past its deadline is waited on.
        `max_age`: an answer another request got this recently will do."""
        try:
            tx = self._detail(record.tx_id, max_age)
        except NotFound:
            return self._not_found(record)
        except (Unavailable, CryptomError):
            return self._said(record, None) or self._away(record)
        if self.store.get(f"gone:{record.tx_id}") is not None:
            self.store.delete(f"gone:{record.tx_id}")  # it answers again: the 404s were passing
            self.store.delete(f"gone-count:{record.tx_id}")
        outcome = decide(tx, record.deadline, self.clock(), self._reason(record.tx_id))
        if not outcome.is_final:
            said = self._said(record, tx)
            if said is not None:
                return said
        if outcome is Outcome.DUE and expire:
            return self._cancel(record, "deadline")
        return self._settle(record, outcome, tx)

    def _settle(self, record: Record, outcome: Outcome, tx: Transaction) -> View:
        if outcome is Outcome.DUE:
            if tx.status in (Status.PENDING, Status.TRANSFERRED):
                # Our DELETE was not applied (yet), or another request is applying it.
                return self._seen(record, Outcome.PARTLY_PAID if tx.is_partial else Outcome.WAITING, tx)
            # Upstream will not cancel it and it is not paid: a person has to look.
            outcome = Outcome.PARTIAL_KEPT if tx.total_transfer_amount > 0 else Outcome.SEE_CASHIER
        if outcome.is_final:
            return self._final(record, outcome, tx)
        return self._seen(record, outcome, tx)

    def _said(self, record: Record, tx: Transaction | None) -> View | None:
        """The result the kiosk has already given, if any. It stays what screens show while
        upstream is away or shows the transaction open again (one given up as lost), and such
        a checkout is never cancelled; only coins arriving later change it (see `_final`)."""
        known = self.store.get(f"final:{record.tx_id}")
        return View(record, Outcome(known), tx) if known is not None else None

    def _not_found(self, record: Record) -> View:
        """Upstream says it does not know the transaction. One such answer may be a passing
        fault of theirs: only repeated answers over a grace period end it for the cashier."""
        tx_id = record.tx_id
        said = self._said(record, None)
        if said is not None:
            return said
        now = self.clock()
        self.store.add(f"gone:{tx_id}", str(now), ttl=RECORD_TTL)
        first = float(self.store.get(f"gone:{tx_id}") or now)
        count = self.store.incr(f"gone-count:{tx_id}", ttl=RECORD_TTL)
        if count >= LOST_ANSWERS and now - first >= LOST_GRACE:
            return self._final(record, Outcome.SEE_CASHIER, None)
        return self._away(record)

    def _seen(self, record: Record, outcome: Outcome, tx: Transaction) -> View:
        self._last_seen.put(record.tx_id, tx)
        key = f"partly:{record.tx_id}"
        # A read first: polls would otherwise take the store's write lock every time.
        if outcome is Outcome.PARTLY_PAID and self.store.get(key) is None and self.store.add(
            key, "1", ttl=RECORD_TTL
        ):
            self._event("partly paid", record, tx, received=str(tx.total_transfer_amount),
                        coin_amount=str(tx.coin_amount))
        return View(record, outcome, tx)

    def _away(self, record: Record, notice: str | None = None) -> View:
        last = self._last_seen.get_item(record.tx_id)
        outcome = Outcome.PARTLY_PAID if last and last.is_partial else Outcome.WAITING
        return View(record, outcome, last, reconnecting=True, notice=notice)

    def _reason(self, tx_id: str) -> str | None:
        return self.store.get(f"cancel:{tx_id}")

    def _final(self, record: Record, outcome: Outcome, tx: Transaction | None) -> View:
        self._last_seen.drop(record.tx_id)
        key = f"final:{record.tx_id}"
        known = self.store.get(key)
        if known is None:
            if self.store.add(key, outcome.value, ttl=RECORD_TTL):
                # Completed although upstream had ended it: money arrived on a cancelled transaction.
                late = outcome is Outcome.PAID and tx is not None and tx.status in ENDED
                self._note_final(record, outcome, tx, late=late)
                return View(record, outcome, tx)
            known = self.store.get(key)  # another request closed it just now
        if outcome in (Outcome.PAID, Outcome.PARTIAL_KEPT) and known != outcome.value and self.store.add(
            f"late:{record.tx_id}:{outcome.value}", "1", ttl=RECORD_TTL
        ):
            # The kiosk had closed it without that money: coins arrived afterwards.
            self.store.set(key, outcome.value, ttl=RECORD_TTL)
            self._note_final(record, outcome, tx, late=True)
        return View(record, outcome, tx)

    def qr_png(self, record: Record) -> bytes | None:
        """Upstream's QR image; when upstream cannot give it, our own QR of the wallet address,
        so the customer is never stuck. None only when the address is unknown too."""
        png = self._qr.get_item(record.tx_id)
        if png is not None:
            return png
        try:
            png = self.client.qr_png(record.tx_id)
        except CryptomError:
            tx = self._last_seen.get_item(record.tx_id)
            if tx is None:
                try:
                    tx = self.client.transaction(record.tx_id)
                except CryptomError:
                    return None
            out = io.BytesIO()
            segno.make(tx.address, error="m").save(out, kind="png", scale=8, border=4)
            return out.getvalue()  # not cached: upstream's own image next time
        self._qr.put(record.tx_id, png)
        return png
