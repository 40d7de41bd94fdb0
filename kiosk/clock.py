"""The one clock every time-based rule reads: deadlines, the store's expiry, the PIN guard, the
operator's idle lock, the screens' countdowns and the watcher's schedule.

It is wall-clock time (seconds since the epoch, UTC), never the host's time zone. Tests move it
with `time-machine`, which travels this clock for everything in the process at once.
"""

from __future__ import annotations

import time


def now() -> float:
    return time.time()
