"""The sales ledger: one row per checkout in a relational database (SQLite in the state folder,
or PostgreSQL for a fleet), through SQLAlchemy, its schema kept by Alembic migrations (imported
only by the processes that upgrade: kiosk.ledger.revision). It knows nothing of checkouts' rules
or of Flask: writers hand it Entries (kiosk.checkout.booking)."""

import logging

# Alembic logs a line per plugin as it is imported: not for every start of the kiosk.
logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)

from .book import Conflict, Ledger  # noqa: E402
from .database import describe, make_engine, reading, sqlite_url  # noqa: E402
from .entry import Entry, Line  # noqa: E402
from .revision import Upgraded  # noqa: E402
from .schema import Item, Sale  # noqa: E402
from .states import ATTENTION, FINAL, OPEN, STATUSES, moves  # noqa: E402
from .status import LedgerState, state  # noqa: E402

__all__ = ["ATTENTION", "FINAL", "OPEN", "STATUSES", "Conflict", "Entry", "Item", "Ledger", "LedgerState",
           "Line", "Sale", "Upgraded", "describe", "make_engine", "moves", "reading", "sqlite_url", "state"]
