"""The operator PIN guard, in the store shared by the workers (and by a fleet's instances).

- Five wrong tries lock one kiosk session, and one client address, for five minutes.
- Ten wrong tries from anywhere (within a day, without the right PIN between) lock the area for
  everyone: 5 minutes, then 10, 20, 40, at most an hour, so rotating sessions or addresses does
  not buy more guesses. The back-off starts over a day after the first of these locks.
- The right PIN resets every count of wrong tries (never a lock).
- Only the shop, from the server (`kiosk pin unlock`), ends locks early: whoever can guess
  cannot also lock staff out for good.

Every attempt takes its place in the counts with the store's atomic increment *before* the PIN
is compared, so a burst from many processes gets exactly as many comparisons as the rules allow.
A lock is never deleted and its count stays full while it lasts, so no late write erases it.
"""

from __future__ import annotations

import hmac
import math
from collections.abc import Callable
from dataclasses import dataclass

from ..clock import now as clock_now
from .store import Store

MAX_TRIES = 5  # per kiosk session and per client address
LOCK_SECONDS = 300
TRIES_WINDOW = 600  # wrong tries are forgotten ten minutes after the first of them
GLOBAL = "global"
GLOBAL_TRIES = 10
GLOBAL_WINDOW = 86400
MAX_LOCK_SECONDS = 3600
BACKOFF_MEMORY = 86400


@dataclass(frozen=True)
class PinResult:
    ok: bool
    locked_for: int = 0  # seconds left, when locked
    tries_left: int = MAX_TRIES
    compared: bool = False  # False: refused without looking at the PIN (locked)


class PinGuard:
    def __init__(self, store: Store, pin: str | None, clock: Callable[[], float] = clock_now):
        self.store = store
        self.pin = pin
        self.clock = clock

    def locked_for(self, whos: list[str]) -> int:
        """Seconds until these clients may try again (0: now), whichever lock ends last."""
        now = self.clock()
        left = 0.0
        for who in [*whos, GLOBAL]:
            until = self.store.get(f"pin:lock:{who}")
            if until:
                left = max(left, float(until) - now)
        return math.ceil(left) if left > 0 else 0

    def check(self, attempt: str, whos: list[str]) -> PinResult:
        if self.pin is None:
            return PinResult(False, tries_left=0)
        wait = self.locked_for(whos)
        if wait:
            return PinResult(False, locked_for=wait, tries_left=0)
        counts: dict[str, int] = {}
        for who in [*whos, GLOBAL]:  # the global budget is spent only by tries that get compared
            counts[who] = self.store.incr(f"pin:tries:{who}", ttl=self._window(who))
            if counts[who] > self._limit(who):
                break
        if any(count > self._limit(who) for who, count in counts.items()):
            self._lock_spent(counts)
            return PinResult(False, locked_for=self.locked_for(whos) or LOCK_SECONDS, tries_left=0)
        if hmac.compare_digest(attempt.encode(), self.pin.encode()):
            for who in counts:
                self.store.delete(f"pin:tries:{who}")
            return PinResult(True, compared=True)
        self._lock_spent(counts)
        wait = self.locked_for(whos)
        left = min(self._limit(who) - count for who, count in counts.items())
        return PinResult(False, locked_for=wait, tries_left=0 if wait else left, compared=True)

    def _lock_spent(self, counts: dict[str, int]) -> None:
        """The try that took a count's last place locks it, whatever became of the try: so a
        count never stays over its limit without a lock."""
        for who, count in counts.items():
            if count == self._limit(who):
                self._lock(who)

    @staticmethod
    def _limit(who: str) -> int:
        return GLOBAL_TRIES if who == GLOBAL else MAX_TRIES

    @staticmethod
    def _window(who: str) -> int:
        return GLOBAL_WINDOW if who == GLOBAL else TRIES_WINDOW

    def _lock(self, who: str) -> None:
        seconds = LOCK_SECONDS
        if who == GLOBAL:
            level = self.store.incr("pin:backoff", ttl=BACKOFF_MEMORY)
            seconds = min(LOCK_SECONDS * 2 ** (level - 1), MAX_LOCK_SECONDS)
        until = self.clock() + seconds
        self.store.set(f"pin:lock:{who}", repr(until), ttl=seconds)
        # The count stays full until the lock ends, so a try that got past the first look at the
        # lock is still refused by its count; both end together and the next round starts at 0.
        self.store.set(f"pin:tries:{who}", str(self._limit(who)), ttl=seconds)

    def unlock(self) -> int:
        """Ends every lock and count now and starts the back-off over; returns how many locks
        there were. For the shop's owner, from the server, when strangers locked staff out."""
        locks = [key for key, _ in self.store.items("pin:lock:")]
        for key in [*locks, *(k for k, _ in self.store.items("pin:tries:")), "pin:backoff"]:
            self.store.delete(key)
        return len(locks)
