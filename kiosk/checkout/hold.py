"""How long a result that sends the customer to the cashier stays on the customer's screen.

A partial payment, or one that needs a check, tells the customer to see the cashier. The screen
keeps saying so until staff end it (a staff PIN on the screen, the console, or the operator's
attention list) or until the hold time has passed since it was first shown: never on a stray
tap, never before the cashier had a chance to come.

Keys in the store: `held:<tx>` when the result was first shown; `released:<tx>` who ended it.
"""

from __future__ import annotations

from collections.abc import Callable

from ..clock import now as clock_now
from .outcome import Outcome
from .record import RECORD_TTL
from .store import Store

HELD = frozenset({Outcome.PARTIAL_KEPT, Outcome.SEE_CASHIER})


class Holds:
    def __init__(self, store: Store, seconds: int, clock: Callable[[], float] = clock_now) -> None:
        self.store = store
        self.seconds = seconds
        self.clock = clock

    def held(self, tx_id: str, outcome: Outcome) -> bool:
        """Whether the result must stay on screen now. The hold time runs from the first ask."""
        if outcome not in HELD or self.released(tx_id):
            return False
        now = self.clock()
        key = f"held:{tx_id}"
        since = self.store.get(key)  # a read first: the screen asks every poll interval
        if since is None and self.store.add(key, repr(now), ttl=RECORD_TTL):
            return True
        try:
            return now - float(since or self.store.get(key) or now) < self.seconds
        except ValueError:  # not what this kiosk writes: the hold has no start to count from
            return False

    def released(self, tx_id: str) -> bool:
        return self.store.get(f"released:{tx_id}") is not None

    def release(self, tx_id: str, by: str) -> bool:
        """Staff have ended it (`by`: screen, till, operator); True the first time."""
        return self.store.add(f"released:{tx_id}", by, ttl=RECORD_TTL)
