"""Probes for load balancers and supervisors: /healthz (the process answers) and /readyz
(the store takes writes, the sales ledger's database answers, upstream reachable, the login works
and the watcher ran lately; cached a few seconds so probes do not hammer upstream or the database).

/readyz names the check that failed ("store: refuses writes", "store: not answering", "upstream:
not reachable", "upstream: login refused", "redis: not reachable", "redis: login refused",
"watcher: not run for 200 s", "ledger: not reachable"), never upstream's own text nor the
database's: anyone who reaches the probe reads it.

A store that refuses writes (Redis at its maxmemory with noeviction, a Redis replica, SQLite
read-only or full) cannot take payments, although it still answers reads. The customer's screens
then say "out of order, please see the cashier" (`refuses_writes` tells that error from others,
`store_refuses_writes` asks the store itself)."""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from typing import Any

from flask import Blueprint, current_app, jsonify, render_template
from redis.exceptions import AuthenticationError, OutOfMemoryError, ReadOnlyError, RedisError, ResponseError

from .. import __version__, clock
from ..checkout import ledger
from ..jobs import queue_health
from ..ledger import state as ledger_state
from ..services import kiosk

bp = Blueprint("health", __name__)
log = logging.getLogger("kiosk.health")

READY_CACHE_SECONDS = 5.0
_cache: dict[str, Any] = {"at": 0.0, "health": None}
_lock = threading.Lock()

PROBE_KEY = "health:write-probe"  # one fixed key, overwritten: the probe itself stays bounded
PROBE_SECONDS = 5.0  # a process asks the store at most this often (the kiosk's clock)
REFUSAL_SECONDS = 60.0  # still "refuses writes" this long after the last refused write
REFUSES = "store: refuses writes"
LEDGER_AWAY = "ledger: not reachable"
# Redis refuses writes with "OOM" at its maxmemory under noeviction, "READONLY" on a replica and
# "MISCONF" when it cannot persist; SQLite with "readonly" and "full" errors.
_REDIS_REFUSALS = ("OOM", "READONLY", "MISCONF")
_SQLITE_REFUSALS = ("SQLITE_READONLY", "SQLITE_FULL", "SQLITE_IOERR")


def refuses_writes(exc: BaseException | None) -> bool:
    """Whether `exc` is the store refusing a write (not a bug, not the store being away). Looks
    along the chain too: SQLite ends a transaction itself on a full disk, and the store's own
    ROLLBACK then fails with an error of its own."""
    seen = 0
    while exc is not None and seen < 5:
        if _refusal(exc):
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


def _refusal(exc: BaseException) -> bool:
    if isinstance(exc, (OutOfMemoryError, ReadOnlyError)):
        return True
    if isinstance(exc, ResponseError):
        return str(exc).startswith(_REDIS_REFUSALS)
    if isinstance(exc, sqlite3.Error):
        name = getattr(exc, "sqlite_errorname", "") or ""
        text = str(exc).lower()
        return name.startswith(_SQLITE_REFUSALS) or "readonly" in text or "disk is full" in text
    return False


def _state() -> dict[str, Any]:
    """This app's memory of the store's writes (one per app, so tests' apps keep their own)."""
    return current_app.extensions.setdefault("kiosk.writes", {
        "lock": threading.Lock(), "probed": None, "refuses": False, "refused": None})


def note_refusal(exc: BaseException | None) -> bool:
    """Called with a request's error: True (and remembered for /readyz) when it was the store
    refusing a write."""
    if not refuses_writes(exc):
        return False
    state = _state()
    with state["lock"]:
        state["refused"] = clock.now()
    log.warning("the store refuses writes: %s", type(exc).__name__)
    return True


def store_refuses_writes(fresh: bool = False) -> bool:
    """Whether the store refuses writes now: one write of a fixed key, at most every few seconds
    per process (unless `fresh`), or this process met a refused write within the last minute.
    The minute counts because a full store refuses only some writes: a full SQLite still
    overwrites the probe's own entry in place, and a Redis at its maxmemory takes a small write
    whenever a client's buffer shrinks, while the next payment fails. Other errors (the store
    away) are raised."""
    state = _state()
    now = clock.now()
    with state["lock"]:
        probed, refused = state["probed"], state["refused"]
        lately = refused is not None and abs(now - refused) < REFUSAL_SECONDS
        if not fresh and probed is not None and abs(now - probed) < PROBE_SECONDS:
            return bool(state["refuses"]) or lately
    try:
        kiosk().store.set(PROBE_KEY, repr(now))
        refuses = False
    except Exception as exc:
        if not refuses_writes(exc):
            raise
        refuses = True
    with state["lock"]:
        state.update(probed=now, refuses=refuses)
        if refuses:
            state["refused"] = now
    return refuses or lately


def out_of_order(**values: Any) -> tuple[str, int]:
    """The customer's calm page while the store refuses writes: out of order, see the cashier.
    503, as every error answer of the kiosk, so htmx swaps nothing and probes see the failure."""
    return render_template("kiosk/error.html", out_of_order=True, **values), 503


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
            shared = kiosk().redis
            if shared is not None:
                shared.ping()  # a fleet is not ready without its shared store
            if store_refuses_writes(fresh=True):
                # It still answers reads, but no payment can start: not ready, and said so.
                health = ledger.Health(False, "the store refuses writes", None, REFUSES)
            elif not (book := ledger_state(kiosk().ledger.engine, count=False)).reachable:
                # Payments go on (the ledger's news waits in the store), but no sale is recorded.
                health = ledger.Health(False, f"ledger: {book.problem}", None, LEDGER_AWAY)
            else:
                health = ledger.health(kiosk().client)
                jobs = queue_health(kiosk().jobs, with_queue=False, up_since=kiosk().started)
                if health.ok and not jobs.ok:
                    check = f"watcher: {jobs.problem}"
                    health = ledger.Health(False, check, health.latency_ms, check)
        except RedisError as exc:
            check = "redis: login refused" if isinstance(exc, AuthenticationError) else "redis: not reachable"
            health = ledger.Health(False, f"Redis: {type(exc).__name__}", None, check)
        except sqlite3.Error as exc:  # the state folder's store, locked or broken
            health = ledger.Health(False, f"SQLite: {type(exc).__name__}", None, "store: not answering")
        if not health.ok:
            log.warning("not ready: %s (%s)", health.check, health.message)
        with _lock:
            _cache.update(at=time.monotonic(), health=health)
    body = {"status": "ready" if health.ok else "not ready", "upstream_ms": health.latency_ms,
            "version": __version__}
    if not health.ok:
        body["reason"] = health.check  # which check failed; upstream's own words stay in the logs
    return jsonify(body), 200 if health.ok else 503
