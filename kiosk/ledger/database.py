"""The ledger's database: SQLite in the state folder on one host (nothing to install), or the
PostgreSQL a fleet shares (KIOSK_DATABASE_URL, through psycopg 3)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection

SQLITE_FILE = "ledger.sqlite3"
BUSY_MS = 15000  # SQLite: how long a writer waits for another's transaction
CONNECT_SECONDS = 3  # PostgreSQL: a ledger away must not hold a payment for long
STATEMENT_MS = 5000


def sqlite_url(state_dir: Path) -> str:
    return f"sqlite:///{state_dir / SQLITE_FILE}"


READ_ONLY = "kiosk_read_only"  # the execution option `reading` sets


def make_engine(url: str) -> Engine:
    """An engine for `url` (sqlite:///… or postgresql+psycopg://…), with each database's rules:
    on SQLite, WAL, and one writer at a time from the start of its transaction (BEGIN IMMEDIATE),
    so two writers never deadlock upgrading a read; a reader (`reading`) begins a plain
    transaction, which in WAL never waits for the writer nor holds one up (a screen's poll, an
    export streaming a long day). On PostgreSQL, short timeouts for connecting and for each
    statement."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": BUSY_MS / 1000})
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(
        url, pool_pre_ping=True, pool_size=4, max_overflow=4,
        connect_args={"connect_timeout": CONNECT_SECONDS,
                      "options": f"-c statement_timeout={STATEMENT_MS} -c lock_timeout={STATEMENT_MS}"},
    )


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # The driver's own transaction handling would not begin one before DDL: we say BEGIN ourselves.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout={BUSY_MS}")
        if cursor.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")  # WAL: never corrupt, no fsync per write
    finally:
        cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    read_only = connection.get_execution_options().get(READ_ONLY, False)
    connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def reading(engine: Engine) -> Connection:
    """A connection that only reads (it must not write: on SQLite a plain transaction that
    writes can fail at once against another writer instead of waiting its turn)."""
    return engine.connect().execution_options(**{READ_ONLY: True})


def describe(engine: Engine) -> str:
    """The database for people: its kind and where, never a password."""
    url = engine.url
    if url.get_backend_name() == "sqlite":
        return f"SQLite {url.database}"
    return f"PostgreSQL {url.host or 'localhost'}:{url.port or 5432}/{url.database or ''}"
