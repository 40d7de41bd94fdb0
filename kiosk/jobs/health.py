"""How the queue is doing, read from the shared store (and the queue's own storage): for the
operator's "Settings and health" and for /readyz."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ..checkout.base import CREATES, WATCHED
from ..clock import now
from .tasks import PERIODIC, Jobs

LATE_PERIODS = 3  # /readyz fails when the sweep has not run for this many periods


@dataclass
class QueueHealth:
    consumers: list[dict[str, Any]]
    last: dict[str, dict[str, Any] | None]
    watched: int
    unanswered: int
    failures: int
    last_failure: dict[str, Any] | None
    waiting: int | None = None
    problem: str | None = None
    checked_at: float = field(default_factory=now)

    @property
    def ok(self) -> bool:
        return self.problem is None

    @property
    def late_for(self) -> int:
        """Seconds since the sweep last ran (0 when it never did)."""
        sweep = self.last.get("sweep")
        return int(self.checked_at - float(sweep["at"])) if sweep else 0


def queue_health(jobs: Jobs, *, with_queue: bool = True, up_since: float | None = None) -> QueueHealth:
    """`up_since`: when this process started. A watcher that has never run is late only once the
    process has been up for as long as a late watcher may be: a fresh start is not a failure."""
    store = jobs.store
    moment = now()
    consumers = sorted((json.loads(v) for _, v in store.items("jobs:consumer:")),
                       key=lambda c: c["host"])
    last = {name: _json(store.get(f"jobs:last:{name}")) for name in PERIODIC}
    hour = int(moment // 3600)
    failures = sum(int(store.get(f"jobs:failures:{h}") or 0) for h in (hour - 1, hour))
    health = QueueHealth(consumers, last, store.size(WATCHED), store.size(CREATES), failures,
                         _json(store.get("jobs:last-failure")), checked_at=moment)
    if with_queue:
        try:
            health.waiting = jobs.huey.pending_count() + jobs.huey.scheduled_count()
        except Exception:  # the operator's page still shows the rest
            health.waiting = None
    sweep = last["sweep"]
    late = LATE_PERIODS * PERIODIC["sweep"]
    if sweep is None:
        if up_since is None or moment - up_since > late:
            health.problem = "not run yet"
    elif health.late_for > late:
        health.problem = f"not run for {health.late_for} s"
    return health


def _json(text: str | None) -> dict[str, Any] | None:
    return json.loads(text) if text else None
