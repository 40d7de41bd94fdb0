"""A fleet as docs/deployment.md describes it, for the tests that run one: `kiosk serve` hosts
(gunicorn, its workers and the watcher its master starts) on one PostgreSQL and one Redis, against
a sandbox over HTTP, each part started for the fleet alone and stopped after it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import redis

from kiosk.ledger import Ledger, make_engine
from kiosk.sandbox import create_sandbox_app

from ..conftest import free_port, start_redis, wait_for_redis
from ..pg import Postgres
from ..support import Gunicorn, Sandbox


@dataclass
class Fleet:
    sandbox: Sandbox
    postgres: Postgres
    database_url: str  # as the kiosk is given it
    redis_url: str
    hosts: list[Gunicorn]
    ledger: Ledger
    root: Path
    settings: list[dict[str, str]]  # each host's, with the database and Redis
    url: str = ""  # where the customer reaches the fleet, when something stands in front of it

    def rows(self, ids) -> dict:
        wanted = set(ids)
        return {row.tx_id: row for row in self.ledger.all() if row.tx_id in wanted}

    def upstream(self, ids) -> dict[str, dict]:
        wanted = set(ids)
        return {tx["_id"]: tx for tx in self.sandbox.transactions() if tx["_id"] in wanted}

    def restart(self, n: int) -> None:
        """Host `n`, stopped, started again on its address and state folder."""
        port = int(self.hosts[n].url.rsplit(":", 1)[1])
        self.hosts[n] = Gunicorn(self.sandbox.url, self.root / f"host{n}", port, **self.settings[n])


@contextmanager
def running_fleet(root: Path, *hosts: dict[str, str]) -> Iterator[Fleet]:
    """One host for each of `hosts` (its settings). On the way out every part is stopped, and no
    host's log may hold a traceback."""
    postgres = Postgres(free_port())
    url = postgres.database()
    port = free_port()
    store = start_redis(root, "--port", str(port))
    wait_for_redis(redis.Redis(port=port))
    sandbox = Sandbox(create_sandbox_app())
    redis_url = f"redis://127.0.0.1:{port}/0"
    database_url = url.replace("postgresql+psycopg://", "postgresql://")
    settings = [{**host, "REDIS_URL": redis_url, "DATABASE_URL": database_url} for host in hosts]
    fleet = Fleet(sandbox, postgres, database_url, redis_url, [], Ledger(make_engine(url)), root, settings)
    logs: list[str] = []
    try:
        for n, host in enumerate(settings):
            (root / f"host{n}").mkdir(mode=0o700)
            fleet.hosts.append(Gunicorn(sandbox.url, root / f"host{n}", free_port(), **host))
        yield fleet
    finally:
        logs = [host.stop() for host in fleet.hosts]
        sandbox.stop()
        store.terminate()
        store.wait(10)
        postgres.stop()
    for log in logs:
        assert "Traceback" not in log, log[-3000:]
