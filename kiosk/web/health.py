"""Probes for load balancers and supervisors: /healthz (the process answers) and /readyz
(upstream reachable, the login works, and the watcher's periodic jobs ran lately; cached a few
seconds so probes do not hammer upstream)."""

from __future__ import annotations

import threading
import time
from typing import Any

from flask import Blueprint, jsonify
from redis.exceptions import RedisError

from .. import __version__
from ..checkout import ledger
from ..jobs import queue_health
from .extensions import kiosk

bp = Blueprint("health", __name__)

READY_CACHE_SECONDS = 5.0
_cache: dict[str, Any] = {"at": 0.0, "health": None}
_lock = threading.Lock()


@bp.get("/healthz")
def healthz() -> Any:
    return jsonify(status="ok", version=__version__)


@bp.get("/readyz")
def readyz() -> Any:
    with _lock:
        fresh = time.monotonic() - _cache["at"] < READY_CACHE_SECONDS and _cache["health"]
        health = _cache["health"] if fresh else None
    if health is None:
        try:
            if kiosk().redis is not None:
                kiosk().redis.ping()  # a fleet is not ready without its shared store
            health = ledger.health(kiosk().client)
            jobs = queue_health(kiosk().jobs, with_queue=False)
            if health.ok and not jobs.ok:
                health = ledger.Health(False, f"jobs: {jobs.problem}", health.latency_ms)
        except RedisError as exc:
            health = ledger.Health(False, f"Redis: {type(exc).__name__}", None)
        with _lock:
            _cache.update(at=time.monotonic(), health=health)
    body = {"status": "ready" if health.ok else "not ready", "upstream_ms": health.latency_ms,
            "version": __version__}
    if not health.ok:
        body["reason"] = health.message
    return jsonify(body), 200 if health.ok else 503
