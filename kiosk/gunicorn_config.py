"""gunicorn settings for `kiosk serve`
(or `gunicorn -c python:kiosk.gunicorn_config 'kiosk.app:create_app()'`).

Timeouts are ordered so each layer gives up before the one above it:
upstream read (5 s) < htmx request timeout (8 s) < gunicorn worker timeout (30 s).
"""

from __future__ import annotations

import os
from typing import Any

from kiosk import logs
from kiosk.jobs import Supervisor

bind = os.environ.get("KIOSK_BIND", "127.0.0.1:8000")
worker_class = "gthread"
# Two cores: two processes, each with threads for the many kiosks that wait on upstream.
workers = int(os.environ.get("KIOSK_WORKERS", "2"))
threads = int(os.environ.get("KIOSK_THREADS", "8"))
timeout = 30
graceful_timeout = 20  # on SIGTERM, requests in flight finish; polls simply resume afterwards
keepalive = 5
accesslog = None  # our own JSON logs say what matters, without query strings or cookies
errorlog = "-"
# No control socket (gunicorn 25.1 and later open one for their `gunicornc` tool unless told not
# to). Its default path is one per user, ~/.gunicorn/gunicorn.ctl or $XDG_RUNTIME_DIR/gunicorn.ctl,
# so a second instance on the host took the first one's over, and the first to stop removed it for
# both. A socket of its own in each state folder would not collide, but nothing would use it: the
# kiosk is run with signals (systemd's stop, SIGHUP to reload) and watched through /healthz,
# /readyz and the operator's health page. It would only be a second door into the master (add,
# kill or reload workers, stop the server) and one more thread in a process that forks.
control_socket_disable = True


def post_worker_init(worker: object) -> None:
    logs.configure(os.environ.get("KIOSK_LOG_FORMAT", "json"))


def on_starting(server: object) -> None:
    logs.configure(os.environ.get("KIOSK_LOG_FORMAT", "json"))


# One job consumer (the watcher) per host, for all the workers: a process of its own, started by
# the master once it listens and stopped with it. KIOSK_WATCHER=off leaves it to `kiosk worker`.
_watcher = Supervisor()


def when_ready(server: Any) -> None:
    if os.environ.get("KIOSK_WATCHER", "on").lower() not in ("off", "false", "0", "no"):
        _watcher.start()
        _stop_watcher_with_workers(server)


def _stop_watcher_with_workers(server: Any) -> None:
    """gunicorn has no hook for the start of a stop: on_exit comes after the workers have ended.
    The master's `stop` (SIGTERM, SIGINT, SIGQUIT, an error in its loop; never a reload) tells
    the watcher first, so it is never started again from then on and stops beside the workers,
    with the same graceful timeout, instead of after them."""
    stop_workers = server.stop

    def stop(graceful: bool = True) -> None:
        _watcher.stopping(graceful, timeout=server.cfg.graceful_timeout)
        stop_workers(graceful)

    server.stop = stop


def on_exit(server: Any) -> None:
    _watcher.stop(timeout=server.cfg.graceful_timeout)  # returns once the watcher has ended
