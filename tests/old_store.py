"""What a kiosk from before the ledger left in its key-value store for a checkout, written as it
wrote it (its record, and its result, partly paid, cancel reason and attention item, each a key
with a time to live): for the tests of the upgrade that imports it into the ledger."""

from __future__ import annotations

import json
import secrets
from decimal import Decimal

from kiosk.checkout.record import Record

RECORD_TTL = 15 * 24 * 3600


def checkout(store, sandbox, amount: str, owner: str, *, at: float, timeout: int = 600,
             display: str | None = None, final: str | None = None, partly: bool = False,
             cancel: str | None = None, attention: dict | None = None) -> str:
    """A checkout the old kiosk started at `at` for `amount` TRY, its transaction made in the
    sandbox; returns its id."""
    tx = sandbox.state.create(Decimal(amount), "TRX", "TRX", None, None)
    record = Record(tx["_id"], Decimal(amount), "TRX", "TRX", at, at + timeout, owner=owner,
                    ref=secrets.token_hex(8), display=display)
    store.set(f"tx:{record.tx_id}", record.dumps(), ttl=RECORD_TTL)
    store.schedule("records", record.tx_id, at)
    if not final:  # its watcher looked at the open ones on a schedule of their own
        store.schedule("watched", record.tx_id, at)
    if final:
        store.set(f"final:{record.tx_id}", final, ttl=RECORD_TTL)
    if partly:
        store.set(f"partly:{record.tx_id}", "1", ttl=RECORD_TTL)
    if cancel:
        store.set(f"cancel:{record.tx_id}", cancel, ttl=RECORD_TTL)
    if attention:
        store.set(f"attention:{record.tx_id}", json.dumps(attention), ttl=RECORD_TTL)
    return record.tx_id
