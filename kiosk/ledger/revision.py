"""The schema's revision without Alembic: the newest revision this version of the kiosk knows,
and the one a database holds, read with one plain query of Alembic's own table.

A web worker only checks that the schema is up to date; Alembic and its templates (about 11 MB
a process) are imported only by the processes that upgrade (kiosk.ledger.migrate). A test holds
HEAD equal to the head of the migrations Alembic finds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, MetaData, String, Table, inspect, select
from sqlalchemy.engine import Connection

HEAD = "0004_checkout_state"  # the newest file in migrations/versions: change it with each new one

VERSION_TABLE = "alembic_version"
_versions = Table(VERSION_TABLE, MetaData(), Column("version_num", String(32), primary_key=True))


@dataclass(frozen=True)
class Upgraded:
    before: str | None  # the revision before (None: an empty database)
    after: str | None
    imported: int  # checkouts imported from the key-value store (by the first upgrade only)


Items = Callable[[], Iterable[dict[str, Any]]]


def current(connection: Connection) -> str | None:
    """The revision the database holds (None: no schema yet). More than one row would be
    branches this kiosk never makes: they read as a revision that is not HEAD."""
    if not inspect(connection).has_table(VERSION_TABLE):
        return None
    found = sorted(connection.execute(select(_versions.c.version_num)).scalars())
    return ",".join(found) or None
