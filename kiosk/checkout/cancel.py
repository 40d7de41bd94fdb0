"""Cancelling upstream: one DELETE per checkout however many taps, tabs, hosts and the watcher
race for it, never "cancelled" before upstream confirms, and never stuck.

The `cancel:<id>` marker says a DELETE is on its way (for a minute at most, so a process that
dies sending it blocks nobody) and, once upstream has confirmed, why the checkout was cancelled.
A DELETE that upstream refuses leaves no marker behind: the transaction is read, and if it is
still open the next poll or watcher run tries again, waiting longer after each refusal.
"""

from __future__ import annotations

from ..cryptom import CryptomError, NotFound, Rejected, Status
from .base import Base, log
from .outcome import ENDED, Outcome
from .record import RECORD_TTL, Record, View

IN_FLIGHT_TTL = 60  # longer than a DELETE with a fresh login can take
REFUSED_FIRST_WAIT = 2.0
REFUSED_MAX_WAIT = 60.0


class Cancelling(Base):
    def cancel(self, record: Record, reason: str = "customer") -> View:
        """A cancel by the customer (or `reason`: till, operator): one DELETE however many taps,
        then a fresh look upstream."""
        return self._cancel(record, reason)

    def cancel_by_operator(self, tx_id: str) -> None:
        """Staff cancel a pending transaction: this kiosk's with its guard, another's directly."""
        record = self.record(tx_id)
        if record is not None:
            self._cancel(record, "operator")
            return
        try:
            self.client.cancel(tx_id)
        except NotFound:
            raise
        except CryptomError:
            pass  # not cancelled: the detail screen shows what upstream says now

    def _cancel(self, record: Record, reason: str) -> View:
        notice = "cancel_failed" if reason == "customer" else None
        key = f"cancel:{record.tx_id}"
        owned = False
        try:
            if self.store.get(f"cancel-wait:{record.tx_id}") is not None:
                return self._look(record, expire=False)  # refused a moment ago: not yet again
            owned = self.store.add(key, reason, ttl=IN_FLIGHT_TTL)
            if not owned:
                return self._look(record, expire=False)  # another tap, tab or host is cancelling
            try:
                self.client.cancel(record.tx_id)
            except NotFound:
                self.store.delete(key)
                return self._not_found(record)
            except Rejected as exc:
                return self._refused(record, reason, exc)
            except CryptomError:
                # Not confirmed upstream (no answer, or the login refused): never claim it is
                # cancelled. Try again on the next poll.
                self.store.delete(key)
                return self._away(record, notice=notice)
            self.store.set(key, reason, ttl=RECORD_TTL)  # confirmed: the reason stays for the result
            return self._look(record, expire=False)
        except Exception:
            log.exception("cancelling %s failed", record.tx_id)
            if owned:
                try:
                    self.store.delete(key)
                except Exception:  # the store itself is away: the marker expires by itself
                    log.warning("could not clear the cancel marker of %s", record.tx_id)
            return self._away(record, notice=notice)

    def _refused(self, record: Record, reason: str, exc: Rejected) -> View:
        """Upstream refused the DELETE: most likely it completed or ended meanwhile. Read it;
        if it is still open, forget the marker and wait before the next try."""
        key = f"cancel:{record.tx_id}"
        try:
            tx = self.client.transaction(record.tx_id)
        except CryptomError:
            tx = None
        if tx is not None and (tx.is_paid or tx.status in ENDED):
            self.store.set(key, reason, ttl=RECORD_TTL)
            return self._look(record, expire=False)
        self.store.delete(key)
        refusals = self.store.incr(f"cancel-refused:{record.tx_id}", ttl=RECORD_TTL)
        wait = min(REFUSED_FIRST_WAIT * 2 ** (refusals - 1), REFUSED_MAX_WAIT)
        self.store.set(f"cancel-wait:{record.tx_id}", str(self.clock() + wait), ttl=wait)
        log.warning("upstream refused to cancel %s (%s); trying again in %.0f s",
                    record.tx_id, exc.message, wait)
        notice = "cancel_failed" if reason == "customer" else None
        if tx is None:
            return self._away(record, notice=notice)
        if tx.status not in (Status.PENDING, Status.TRANSFERRED) and self.clock() >= record.deadline:
            # In a state upstream will not cancel, and past the deadline: a person has to look.
            return self._settle(record, Outcome.DUE, tx)
        view = self._seen(record, Outcome.PARTLY_PAID if tx.is_partial else Outcome.WAITING, tx)
        return View(view.record, view.outcome, view.tx, notice=notice)
