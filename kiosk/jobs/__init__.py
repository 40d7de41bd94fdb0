"""Background work on a job queue (Huey): the watcher of deadlines, closed checkouts, unfinished
creates and the hourly reconciliation. No Flask here: the jobs call the checkout's functions."""

import sys


def _huey_without_psycopg() -> None:
    """huey's storage module imports psycopg whenever it is installed, for a PostgreSQL queue the
    kiosk never uses (its queue is SQLite or Redis): about 10 MB in every process. Hidden while
    huey loads, psycopg is imported only where the ledger's URL is PostgreSQL's."""
    if "huey.storage" in sys.modules or "psycopg" in sys.modules:
        return
    sys.modules["psycopg"] = None  # type: ignore[assignment]  # import psycopg: ImportError
    try:
        import huey.storage  # noqa: F401
    finally:
        del sys.modules["psycopg"]


_huey_without_psycopg()

from .consumer import Runner, Supervisor  # noqa: E402
from .health import QueueHealth, queue_health  # noqa: E402
from .queue import make_queue  # noqa: E402
from .tasks import Jobs  # noqa: E402

__all__ = ["Jobs", "QueueHealth", "Runner", "Supervisor", "make_queue", "queue_health"]
