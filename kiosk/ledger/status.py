"""The ledger's state for the people who run the kiosk (the operator's Settings page) and for the
probes (/readyz): which database, its schema's revision, whether it answers, how many sales it
holds. Never the database's password: only `describe`'s kind and place."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, func, select
from sqlalchemy.exc import SQLAlchemyError

from . import revision
from .database import describe, reading
from .schema import checkouts


@dataclass(frozen=True)
class LedgerState:
    database: str  # its kind and place, never a password
    reachable: bool
    revision: str | None  # the schema's revision (None: not created yet, or not reachable)
    head: str | None  # the newest revision this version of the kiosk knows
    rows: int | None  # sales recorded (None: not counted, or not reachable)
    problem: str | None = None  # why it is not reachable: the error's kind, never its text

    @property
    def current(self) -> bool:
        return self.reachable and self.revision == self.head


def state(engine: Engine, count: bool = True) -> LedgerState:
    """Ask the database: its revision, and with `count` its rows. A database that does not
    answer gives reachable=False and the kind of error (its message may name the server's user)."""
    head = revision.HEAD
    try:
        with reading(engine) as conn:
            found = revision.current(conn)
            rows: int | None = None
            if count:
                rows = 0 if found is None else int(
                    conn.execute(select(func.count()).select_from(checkouts)).scalar_one())
    except SQLAlchemyError as exc:
        cause = getattr(exc, "orig", None) or exc
        return LedgerState(describe(engine), False, None, head, None, type(cause).__name__)
    return LedgerState(describe(engine), True, found, head, rows)
