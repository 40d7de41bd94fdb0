"""Cancelling upstream: one DELETE per checkout however many taps, tabs, hosts and the watcher
race for it, never "cancelled" before upstream confirms, and never stuck.

Who may cancel and when is the state machine's (kiosk.checkout.states): a checkout with its
result gets no DELETE; after a refusal the next one waits, longer each time. The runner sends
the DELETE under a lease that lives a minute at most, so a process that dies sending it blocks
nobody, and keeps the reason upstream confirmed in the ledger with the result.
"""

from __future__ import annotations

from ..cryptom import CryptomClient, CryptomError, NotFound
from .base import Records
from .record import Record, View
from .runner import Runner
from .states import CancelAsked


class Cancel:
    def __init__(self, client: CryptomClient, records: Records, runner: Runner) -> None:
        self.client = client
        self.records = records
        self.runner = runner

    def cancel(self, record: Record, reason: str = "customer") -> View:
        """A cancel by the customer (or `reason`: till, operator, deadline, unanswered): one
        DELETE however many taps, then a fresh look upstream. A checkout that already has its
        result (a stale tab, a late tap on the console) gets no DELETE: only its result."""
        return self.runner.run(record, CancelAsked(reason))

    def cancel_by_operator(self, tx_id: str) -> None:
        """Staff cancel a pending transaction: this kiosk's with its guard, another's directly."""
        record = self.records.get(tx_id)
        if record is not None:
            self.cancel(record, "operator")
            return
        try:
            self.client.cancel(tx_id)
        except NotFound:
            raise
        except CryptomError:
            pass  # not cancelled: the detail screen shows what upstream says now
