"""Looking at a checkout: read upstream and take the step (kiosk.checkout.states through the
runner). The customer's screen, the result page, the operator and the watcher all look through
here, so one rule decides everywhere and each change of state is noted once."""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

import segno

from ..cryptom import CryptomClient, CryptomError, Transaction
from ..ledger import FINAL
from . import ownership
from .base import Memory, Records, log
from .outcome import Outcome
from .record import Record, View
from .runner import Runner


class Look:
    def __init__(self, client: CryptomClient, records: Records, runner: Runner, memory: Memory,
                 *, share_seconds: float) -> None:
        self.client = client
        self.records = records
        self.runner = runner
        self.memory = memory
        self.share_seconds = share_seconds

    def record(self, tx_id: str) -> Record | None:
        """Any checkout this kiosk recorded, whoever started it: for the operator area and the
        watcher only."""
        return self.records.get(tx_id)

    def record_for(self, tx_id: str, owner: str | None) -> Record | None:
        """The checkout if `owner` started it; None, as for an unknown id, to anyone else."""
        record = self.record(tx_id) if owner else None
        return record if record is not None and ownership.owns(record, owner) else None

    def view(self, record: Record) -> View:
        """The state of a checkout now; cancels upstream once the kiosk's deadline has passed.
        Two tabs, a reload or the result screen right after a poll share one upstream answer."""
        return self.runner.look(record, expire=True, max_age=self.share_seconds)

    def _row(self, tx_id: str) -> Mapping[Any, Any] | None:
        try:
            return self.runner.ledger.row(tx_id)
        except Exception:  # the ledger is away: nothing known
            log.warning("the ledger is not answering: the state of %s is not known", tx_id)
            return None

    def is_closed(self, tx_id: str) -> bool:
        """Known to have reached a result already (no upstream call)."""
        row = self._row(tx_id)
        return row is not None and row["status"] in FINAL

    def last_outcome(self, tx_id: str) -> Outcome:
        """What the kiosk last decided for a transaction, from the ledger alone (no upstream
        call): for lists that must not ask upstream about every row."""
        row = self._row(tx_id)
        if row is None or row["status"] not in FINAL | {"partly_paid"}:
            return Outcome.WAITING
        return Outcome(row["status"])

    def cancel_reason(self, tx_id: str) -> str | None:
        """Who cancelled it: customer, till, operator or deadline (None: nobody asked to)."""
        row = self._row(tx_id)
        return None if row is None else row["cancel_reason"]

    def qr_png(self, record: Record) -> bytes | None:
        """Upstream's QR image; when upstream cannot give it, our own QR of the wallet address,
        so the customer is never stuck. None only when the address is unknown too."""
        png = self.memory.qr.get_item(record.tx_id)
        if isinstance(png, bytes):
            return png
        try:
            png = self.client.qr_png(record.tx_id)
        except CryptomError:
            tx: Transaction | None = self.memory.last(record.tx_id)
            if tx is None:
                try:
                    tx = self.client.transaction(record.tx_id)
                except CryptomError:
                    return None
            out = io.BytesIO()
            segno.make(tx.address, error="m").save(out, kind="png", scale=8, border=4)
            return out.getvalue()  # not cached: upstream's own image next time
        self.memory.qr.put(record.tx_id, png)
        return png
