"""Upgrading the ledger's schema with Alembic, from the program (`kiosk db upgrade`, and every
start): one process at a time, the whole upgrade in one transaction. Imported only by the
processes that upgrade: a web worker checks the revision with kiosk.ledger.revision.

SQLite takes its write lock at the start of the transaction (BEGIN IMMEDIATE), PostgreSQL an
advisory lock of the transaction, so processes starting together upgrade one after the other and
the later ones find nothing left to do.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text
from sqlalchemy.engine import Connection

from .database import reading
from .entry import Entry
from .revision import Items, Upgraded

MIGRATIONS = Path(__file__).resolve().with_name("migrations")
LOCK_KEY = 0x6B696F736B  # "kiosk": PostgreSQL's advisory lock for upgrades


__all__ = ["Items", "Upgraded", "config", "current", "head", "upgrade"]


def config(connection: Connection | None = None, seed: Callable[[], Iterable[Entry]] | None = None,
           items: Items | None = None) -> Config:
    """Alembic's configuration, without an .ini file: the migrations travel inside the package.
    `seed` and `items`: the checkouts and the attention items of the key-value store the kiosk
    kept before it had a ledger, for the migrations that make their tables."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    cfg.attributes["seed"] = seed
    cfg.attributes["attention"] = items
    cfg.attributes["imported"] = 0
    return cfg


def head() -> str | None:
    return ScriptDirectory.from_config(config()).get_current_head()


def current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine, seed: Callable[[], Iterable[Entry]] | None = None,
            items: Items | None = None) -> Upgraded:
    newest = head()
    with reading(engine) as conn:
        before = current(conn)  # a quick look first: nearly every start finds it up to date
    if before == newest:
        return Upgraded(before, before, 0)
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})
        before = current(conn)
        cfg = config(conn, seed, items)
        if before != newest:
            command.upgrade(cfg, "head")
        after = current(conn)
    imported: Any = cfg.attributes["imported"]
    return Upgraded(before, after, int(imported))
