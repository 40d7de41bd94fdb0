"""Probes for load balancers and supervisors: /healthz (the process answers) and /readyz
(upstream reachable, the login works and the watcher ran lately; cached a few seconds so probes
do not hammer upstream).

/readyz names the check that failed ("upstream: not reachable", "upstream: login refused",
"redis: not reachable", "redis: login refused", "watcher: not run for 200 s"), never upstream's
own text: anyone who reaches the probe reads it."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from flask import Blueprint, jsonify
from redis.exceptions import AuthenticationError, RedisError

from .. import __version__
from ..checkout import ledger
from ..jobs import queue_health
from .extensions import kiosk

bp = Blueprint("health", __name__)
log = logging.getLogger("kiosk.health")

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
            jobs = queue_health(kiosk().jobs, with_queue=False, up_since=kiosk().started)
            if health.ok and not jobs.ok:
                check = f"watcher: {jobs.problem}"
                health = ledger.Health(False, check, health.latency_ms, check)
        except RedisError as exc:
            check = "redis: login refused" if isinstance(exc, AuthenticationError) else "redis: not reachable"
            health = ledger.Health(False, f"Redis: {type(exc).__name__}", None, check)
        if not health.ok:
            log.warning("not ready: %s (%s)", health.check, health.message)
        with _lock:
            _cache.update(at=time.monotonic(), health=health)
    body = {"status": "ready" if health.ok else "not ready", "upstream_ms": health.latency_ms,
            "version": __version__}
    if not health.ok:
        body["reason"] = health.check  # which check failed; upstream's own words stay in the logs
    return jsonify(body), 200 if health.ok else 503
