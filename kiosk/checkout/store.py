"""A small key-value store shared by the worker processes of one host (SQLite in the state folder).

It holds the kiosk's own facts about a checkout: the one-transaction guard, the deadline, why a
transaction was cancelled, and items for the operator. Upstream stays the truth about money.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path


class LocalStore:
    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._local = threading.local()
        with self._db() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(
                "CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL, "
                "expires REAL)"
            )

    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=15, isolation_level=None)
            db.execute("PRAGMA busy_timeout=15000")
            self._local.db = db
        return db

    def get(self, key: str) -> str | None:
        row = self._db().execute(
            "SELECT value FROM kv WHERE key=? AND (expires IS NULL OR expires>?)", (key, time.time())
        ).fetchone()
        return row[0] if row else None

    def set(self, key: str, value: str, ttl: float | None = None) -> None:
        expires = time.time() + ttl if ttl else None
        self._db().execute(
            "INSERT INTO kv(key, value, expires) VALUES(?,?,?) "
            "ON CONFLICT(key) DO UPDATE SET value=excluded.value, expires=excluded.expires",
            (key, value, expires),
        )

    def add(self, key: str, value: str, ttl: float | None = None) -> bool:
        """Set only if absent (or expired). Atomic across processes: the basis of every guard."""
        now = time.time()
        expires = now + ttl if ttl else None
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute("DELETE FROM kv WHERE key=? AND expires IS NOT NULL AND expires<=?", (key, now))
            cur = db.execute(
                "INSERT OR IGNORE INTO kv(key, value, expires) VALUES(?,?,?)", (key, value, expires)
            )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return cur.rowcount == 1

    def delete(self, key: str) -> None:
        self._db().execute("DELETE FROM kv WHERE key=?", (key,))

    def items(self, prefix: str) -> list[tuple[str, str]]:
        rows = self._db().execute(
            "SELECT key, value FROM kv WHERE key >= ? AND key < ? AND (expires IS NULL OR expires>?) "
            "ORDER BY key",
            (prefix, prefix + "\uffff", time.time()),
        ).fetchall()
        return [(k, v) for k, v in rows]
