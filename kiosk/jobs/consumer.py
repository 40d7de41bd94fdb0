"""Running the queue's consumer: Huey's own consumer (a scheduler thread that wakes every second
and worker threads), plus a heartbeat in the shared store for the operator and /readyz.

`kiosk worker` runs it in the foreground (`run`); `kiosk serve` starts one such process per
host from gunicorn's master (see `Supervisor`), so all workers of a host share one consumer;
`kiosk demo` and the tests run it in threads of their own process (`start` / `stop`).
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time

from ..clock import now
from .tasks import Jobs

log = logging.getLogger(__name__)

THREADS = 4  # the jobs wait on upstream, not on the CPU
BEAT_EVERY = 10.0


class Runner:
    def __init__(self, jobs: Jobs, threads: int = THREADS, parent: int | None = None) -> None:
        self.jobs = jobs
        self.parent = parent
        self.started = now()
        self._stopped = threading.Event()
        logging.getLogger("huey").setLevel(logging.WARNING)  # not a line per job run
        logging.getLogger("huey.consumer").setLevel(logging.INFO)  # started, stopped
        logging.getLogger("huey.consumer.Scheduler").setLevel(logging.WARNING)
        self.consumer = jobs.huey.create_consumer(
            workers=threads, worker_type="thread", periodic=True, scheduler_interval=1,
            # An idle worker looks at the SQLite queue twice a second (Redis blocks instead).
            initial_delay=0.1, backoff=1.15, max_delay=0.5,
            check_worker_health=True, health_check_interval=10,
            shutdown_timeout=20, graceful_signal="TERM",
        )

    def _beat(self) -> None:
        while not self._stopped.is_set():
            try:
                self.jobs.beat(self.started)
            except Exception:  # the store is away for a moment: the next beat tries again
                log.warning("watcher heartbeat failed", exc_info=True)
            if self.parent is not None and os.getppid() != self.parent:
                log.warning("the kiosk server is gone: the watcher stops")
                os.kill(os.getpid(), signal.SIGTERM)
                return
            self._stopped.wait(BEAT_EVERY)

    def _catch_up(self) -> None:
        """Whatever fell due while no consumer ran (a restart past a deadline) runs now."""
        try:
            self.jobs.catch_up()
        except Exception:
            log.warning("could not queue the catch-up run", exc_info=True)

    def run(self) -> None:
        """In the foreground, until SIGTERM (graceful) or SIGINT."""
        threading.Thread(target=self._beat, name="watcher-heartbeat", daemon=True).start()
        self._catch_up()
        try:
            self.consumer.run()
        finally:
            self._stopped.set()
            self.jobs.gone()

    def start(self) -> Runner:
        """In threads of this process (no signal handlers): the demo and the tests."""
        threading.Thread(target=self._beat, name="watcher-heartbeat", daemon=True).start()
        self._catch_up()
        self.consumer.scheduler.start()
        for _, worker in self.consumer.worker_threads:
            worker.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        self.consumer.stop(graceful=True)
        self.jobs.gone()


class Supervisor:
    """One consumer process per host, started and kept alive by gunicorn's master: restarted if
    it dies, stopped with the server. It is a process of its own, so forking the web workers never
    copies its threads."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen[bytes] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _spawn(self) -> subprocess.Popen[bytes]:
        argv = [sys.executable, "-m", "kiosk.cli", "worker", "--parent", str(os.getpid())]
        return subprocess.Popen(argv)  # noqa: S603 - our own interpreter and module

    def start(self) -> None:
        self.proc = self._spawn()
        self._thread = threading.Thread(target=self._keep, name="watcher-supervisor", daemon=True)
        self._thread.start()

    def _keep(self) -> None:
        wait = 1.0
        while not self._stop.wait(1.0):
            if self.proc is not None and self.proc.poll() is None:
                wait = 1.0
                continue
            log.warning("the watcher process ended; starting it again in %.0f s", wait)
            if self._stop.wait(wait):
                return
            wait = min(wait * 2, 60.0)
            self.proc = self._spawn()

    def stop(self, timeout: float = 25.0) -> None:
        self._stop.set()
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)  # graceful: the job in hand finishes
        deadline = time.monotonic() + timeout
        while proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        if proc.poll() is None:
            proc.kill()
