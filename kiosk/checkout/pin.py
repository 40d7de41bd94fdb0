"""The operator PIN: five wrong tries lock the area for five minutes, counted per kiosk session
and per client address, in the store shared by the workers."""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass

from ..clock import now as clock_now
from .store import Store

MAX_TRIES = 5
LOCK_SECONDS = 300


@dataclass(frozen=True)
class PinResult:
    ok: bool
    locked_for: int = 0  # seconds left, when locked
    tries_left: int = MAX_TRIES


class PinGuard:
    def __init__(self, store: Store, pin: str | None, clock: Callable[[], float] = clock_now):
        self.store = store
        self.pin = pin
        self.clock = clock

    def _state(self, who: str) -> dict:
        text = self.store.get(f"pin:{who}")
        return json.loads(text) if text else {"fails": 0, "until": 0}

    def locked_for(self, whos: list[str]) -> int:
        now = self.clock()
        return max([0, *(int(self._state(w)["until"] - now + 0.999) for w in whos)])

    def check(self, attempt: str, whos: list[str]) -> PinResult:
        if self.pin is None:
            return PinResult(False, tries_left=0)
        wait = self.locked_for(whos)
        if wait > 0:
            return PinResult(False, locked_for=wait, tries_left=0)
        if hmac.compare_digest(attempt.encode(), self.pin.encode()):
            for who in whos:
                self.store.delete(f"pin:{who}")
            return PinResult(True)
        left = MAX_TRIES
        now = self.clock()
        for who in whos:
            state = self._state(who)
            state["fails"] += 1
            if state["fails"] >= MAX_TRIES:
                state = {"fails": 0, "until": now + LOCK_SECONDS}
            self.store.set(f"pin:{who}", json.dumps(state), ttl=LOCK_SECONDS * 2)
            left = min(left, 0 if state["until"] > now else MAX_TRIES - state["fails"])
        wait = self.locked_for(whos)
        return PinResult(False, locked_for=wait, tries_left=0 if wait else left)
