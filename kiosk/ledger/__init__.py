"""The sales ledger: one row per checkout in a relational database (SQLite in the state folder,
or PostgreSQL for a fleet), through SQLAlchemy, its schema kept by Alembic migrations. It knows
nothing of checkouts' rules or of Flask: writers hand it Entries (kiosk.checkout.booking)."""

from .book import Conflict, Ledger
from .database import describe, make_engine, sqlite_url
from .entry import Entry, Line
from .migrate import Upgraded
from .schema import Sale
from .states import ATTENTION, FINAL, OPEN, STATUSES, moves

__all__ = ["ATTENTION", "FINAL", "OPEN", "STATUSES", "Conflict", "Entry", "Ledger", "Line", "Sale",
           "Upgraded", "describe", "make_engine", "moves", "sqlite_url"]
