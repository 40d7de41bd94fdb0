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
                self._ledger()
            except Exception:  # the store is away for a moment: the next beat tries again
                log.warning("watcher heartbeat failed", exc_info=True)
            if self.parent is not None and os.getppid() != self.parent:
                log.warning("the kiosk server is gone: the watcher stops")
                os.kill(os.getpid(), signal.SIGTERM)
                return
            self._stopped.wait(BEAT_EVERY)

    def _ledger(self) -> None:
        """Entries kept while the ledger was away are written within a beat of its return, not at
        the next minute's sweep: the screens stop saying they are reconnecting."""
        booking = self.jobs.booking
        if booking is not None and booking.waiting():
            booking.catch_up()

    def _catch_up(self) -> None:
        """Whatever fell due while no consumer ran (a restart past a deadline) runs now."""
        try:
            self.jobs.catch_up()
        except Exception:
            log.warning("could not queue the catch-up run", exc_info=True)

    def _one_sigterm(self) -> None:
        """Under `kiosk serve` SIGTERM may come twice at once: from systemd's stop, which signals
        every process of the service, and from the master passing its own stop on. Huey takes a
        second SIGTERM as "stop now, drop the jobs in hand"; here the first one counts and the
        others are ignored. The master hurries the watcher with SIGINT, or kills it at its
        deadline."""
        handle = self.consumer._handle_signal  # what huey registers for SIGTERM and SIGINT
        taken = False

        def handle_once(signum: int, frame: object) -> None:
            nonlocal taken
            if signum != signal.SIGTERM:
                handle(signum, frame)
            elif not taken:
                taken = True
                handle(signum, frame)
                signal.signal(signal.SIGTERM, handle_once)  # huey put its "stop now" there

        self.consumer._handle_signal = handle_once

    def run(self) -> None:
        """In the foreground, until SIGTERM (graceful) or SIGINT."""
        if self.parent is not None:
            self._one_sigterm()
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
    it dies while the server runs, never once the server is stopping, and ended with it. It is a
    process of its own, so forking the web workers never copies its threads.

    The master calls `stopping` as it begins to stop (SIGTERM, SIGINT, SIGQUIT, or an error) and
    `stop` as its last step (on_exit): the watcher stops beside the web workers, each finishing
    what it has in hand, within the same deadline, the server's graceful timeout."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen[bytes] | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()  # a restart and the stop never cross
        self._thread: threading.Thread | None = None
        self._deadline = 0.0
        self._asked: int | None = None  # the signal the watcher was sent to stop

    def _spawn(self) -> subprocess.Popen[bytes]:
        argv = [sys.executable, "-m", "kiosk.cli", "worker", "--parent", str(os.getpid())]
        return subprocess.Popen(argv)  # noqa: S603 - our own interpreter and module

    def start(self) -> None:
        with self._lock:
            self.proc = self._spawn()
        self._thread = threading.Thread(target=self._keep, name="watcher-supervisor", daemon=True)
        self._thread.start()

    def _keep(self) -> None:
        wait = 1.0
        while not self._stop.wait(1.0):
            if self.proc is not None and self.proc.poll() is None:
                wait = 1.0
                continue
            # It ended. What ended it may be the server's own stop: systemd's stop and Ctrl-C
            # signal every process of the service at once, and the watcher can end before the
            # master has taken its signal in. So the back-off comes first: a stop meanwhile wins,
            # and nothing is logged or started.
            if self._stop.wait(wait):
                return
            with self._lock:
                if self._stop.is_set():
                    return
                log.warning("the watcher process ended; starting it again (after %.0f s)", wait)
                self.proc = self._spawn()
            wait = min(wait * 2, 60.0)

    def stopping(self, graceful: bool = True, timeout: float = 25.0) -> None:
        """The server begins to stop: the watcher is never started again, and is asked to stop
        now, SIGTERM when graceful (the jobs in hand finish), SIGINT otherwise (at once). It has
        `timeout` seconds from the first call; a second call only hurries it."""
        sig = signal.SIGTERM if graceful else signal.SIGINT
        with self._lock:
            if not self._stop.is_set():
                self._stop.set()
                self._deadline = time.monotonic() + timeout
            if self._asked in (sig, signal.SIGINT):
                return
            self._asked = sig
            proc = self.proc
        if proc is not None:
            proc.send_signal(sig)  # nothing if it has ended already

    def stop(self, timeout: float = 25.0) -> None:
        """The server's last step: returns once the watcher has ended (and been reaped), killed if
        it is still running at the deadline."""
        self.stopping(timeout=timeout)
        proc = self.proc
        if proc is None:
            return
        try:
            proc.wait(max(self._deadline - time.monotonic(), 0.0))
        except subprocess.TimeoutExpired:
            log.warning("the watcher did not stop in time: killed")
            proc.kill()
            proc.wait()
