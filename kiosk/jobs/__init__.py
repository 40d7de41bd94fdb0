"""Background work on a job queue (Huey): the watcher of deadlines, closed checkouts, unfinished
creates and the hourly reconciliation. No Flask here: the jobs call the checkout's functions."""

from .consumer import Runner, Supervisor
from .health import QueueHealth, queue_health
from .queue import make_queue
from .tasks import Jobs

__all__ = ["Jobs", "QueueHealth", "Runner", "Supervisor", "make_queue", "queue_health"]
