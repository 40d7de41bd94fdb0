"""A small key-value store shared by the workers: SQLite in the state folder on one host, or
Redis for a fleet of hosts behind a load balancer.

It holds the kiosk's own facts about a checkout: the one-transaction guard, the deadline, why a
transaction was cancelled, rate-limit counters and items for the operator. Upstream stays the
truth about money. Besides keys it keeps a few indexes (members ordered by a time): what the
watcher looks at next, and the checkouts of the last days for the reconciliation.
"""

from __future__ import annotations

import random
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Protocol

from .. import clock


class Store(Protocol):
    def get(self, key: str) -> str | None: ...
    def set(self, key: str, value: str, ttl: float | None = None) -> None: ...
    def add(self, key: str, value: str, ttl: float | None = None) -> bool: ...
    def delete(self, key: str) -> None: ...
    def discard(self, key: str, value: str) -> bool: ...
    def items(self, prefix: str) -> list[tuple[str, str]]: ...
    def incr(self, key: str, ttl: float) -> int: ...
    def schedule(self, index: str, member: str, at: float) -> None: ...
    def unschedule(self, index: str, member: str) -> None: ...
    def when(self, index: str, member: str) -> float | None: ...
    def scheduled(self, index: str, high: float, low: float = float("-inf"),
                  limit: int = 1000) -> list[tuple[str, float]]: ...
    def size(self, index: str) -> int: ...


PURGE_EVERY = 600.0  # seconds between sweeps of expired rows, per process


class LocalStore:
    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._local = threading.local()
        self._last_purge = 0.0
        # The workers of a fresh install open the file together: switching it to WAL can meet
        # another process's lock, which SQLite reports at once rather than waiting. Retry then.
        deadline = time.monotonic() + 30
        while True:
            try:
                self._setup()
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05 + random.random() * 0.1)

    def _setup(self) -> None:
        db = self._db()
        if db.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
            db.execute("PRAGMA journal_mode=WAL")
        db.execute(
            "CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL, "
            "expires REAL)"
        )
        db.execute("CREATE TABLE IF NOT EXISTS idx (name TEXT NOT NULL, member TEXT NOT NULL, "
                   "at REAL NOT NULL, PRIMARY KEY (name, member))")
        db.execute("CREATE INDEX IF NOT EXISTS idx_at ON idx (name, at)")

    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=15, isolation_level=None)
            db.execute("PRAGMA busy_timeout=15000")
            # WAL with NORMAL: no fsync per write on the poll path, and still never corrupt.
            db.execute("PRAGMA synchronous=NORMAL")
            self._local.db = db
        return db

    def get(self, key: str) -> str | None:
        row = self._db().execute(
            "SELECT value FROM kv WHERE key=? AND (expires IS NULL OR expires>?)", (key, clock.now())
        ).fetchone()
        return row[0] if row else None

    def purge(self) -> int:
        """Drop expired rows (rate counters, shared answers, old guards), so the file stays small
        over years of service. Runs by itself every few minutes from set()."""
        self._last_purge = clock.now()
        return self._db().execute("DELETE FROM kv WHERE expires IS NOT NULL AND expires<=?",
                                  (self._last_purge,)).rowcount

    def set(self, key: str, value: str, ttl: float | None = None) -> None:
        if clock.now() - self._last_purge > PURGE_EVERY:
            self.purge()
        expires = clock.now() + ttl if ttl else None
        self._db().execute(
            "INSERT INTO kv(key, value, expires) VALUES(?,?,?) "
            "ON CONFLICT(key) DO UPDATE SET value=excluded.value, expires=excluded.expires",
            (key, value, expires),
        )

    def add(self, key: str, value: str, ttl: float | None = None) -> bool:
        """Set only if absent (or expired). Atomic across processes: the basis of every guard."""
        now = clock.now()
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

    def discard(self, key: str, value: str) -> bool:
        """Delete only if it still holds `value` (compare and delete, atomic)."""
        return self._db().execute("DELETE FROM kv WHERE key=? AND value=?", (key, value)).rowcount == 1

    def items(self, prefix: str) -> list[tuple[str, str]]:
        rows = self._db().execute(
            "SELECT key, value FROM kv WHERE key >= ? AND key < ? AND (expires IS NULL OR expires>?) "
            "ORDER BY key",
            (prefix, prefix + "\uffff", clock.now()),
        ).fetchall()
        return [(k, v) for k, v in rows]

    def incr(self, key: str, ttl: float) -> int:
        """Count up (from 1) a counter that lives `ttl` seconds from its first count."""
        now = clock.now()
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute("DELETE FROM kv WHERE key=? AND expires IS NOT NULL AND expires<=?", (key, now))
            row = db.execute("SELECT value FROM kv WHERE key=?", (key,)).fetchone()
            count = int(row[0]) + 1 if row else 1
            if row:
                db.execute("UPDATE kv SET value=? WHERE key=?", (str(count), key))
            else:
                db.execute("INSERT INTO kv(key, value, expires) VALUES(?,?,?)", (key, "1", now + ttl))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return count

    def schedule(self, index: str, member: str, at: float) -> None:
        self._db().execute(
            "INSERT INTO idx(name, member, at) VALUES(?,?,?) "
            "ON CONFLICT(name, member) DO UPDATE SET at=excluded.at", (index, member, at))

    def unschedule(self, index: str, member: str) -> None:
        self._db().execute("DELETE FROM idx WHERE name=? AND member=?", (index, member))

    def when(self, index: str, member: str) -> float | None:
        row = self._db().execute("SELECT at FROM idx WHERE name=? AND member=?", (index, member)).fetchone()
        return float(row[0]) if row else None

    def scheduled(self, index: str, high: float, low: float = float("-inf"),
                  limit: int = 1000) -> list[tuple[str, float]]:
        """Members whose time is between `low` and `high`, earliest first."""
        rows = self._db().execute(
            "SELECT member, at FROM idx WHERE name=? AND at>=? AND at<=? ORDER BY at LIMIT ?",
            (index, max(low, -1e18), min(high, 1e18), limit)).fetchall()
        return [(m, float(a)) for m, a in rows]

    def size(self, index: str) -> int:
        return int(self._db().execute("SELECT COUNT(*) FROM idx WHERE name=?", (index,)).fetchone()[0])


class RedisStore:
    """The same store in Redis, shared by every instance of a fleet."""

    def __init__(self, client: Any, prefix: str = "kiosk:") -> None:
        self.redis = client
        self.prefix = prefix

    def _k(self, key: str) -> str:
        return self.prefix + key

    def get(self, key: str) -> str | None:
        value = self.redis.get(self._k(key))
        return value.decode() if isinstance(value, bytes) else value

    def set(self, key: str, value: str, ttl: float | None = None) -> None:
        self.redis.set(self._k(key), value, px=int(ttl * 1000) if ttl else None)

    def add(self, key: str, value: str, ttl: float | None = None) -> bool:
        return bool(self.redis.set(self._k(key), value, nx=True, px=int(ttl * 1000) if ttl else None))

    def delete(self, key: str) -> None:
        self.redis.delete(self._k(key))

    _DISCARD = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"

    def discard(self, key: str, value: str) -> bool:
        return bool(self.redis.eval(self._DISCARD, 1, self._k(key), value))

    def items(self, prefix: str) -> list[tuple[str, str]]:
        keys = sorted(self.redis.scan_iter(match=self._k(prefix) + "*", count=500))
        values = self.redis.mget(keys) if keys else []
        cut = len(self.prefix)
        return [(k.decode()[cut:], v.decode()) for k, v in zip(keys, values, strict=True) if v is not None]

    def incr(self, key: str, ttl: float) -> int:
        pipe = self.redis.pipeline()
        pipe.incr(self._k(key))
        pipe.pexpire(self._k(key), int(ttl * 1000), nx=True)
        count, _ = pipe.execute()
        return int(count)

    def _ix(self, index: str) -> str:
        return f"{self.prefix}idx:{index}"

    def schedule(self, index: str, member: str, at: float) -> None:
        self.redis.zadd(self._ix(index), {member: at})

    def unschedule(self, index: str, member: str) -> None:
        self.redis.zrem(self._ix(index), member)

    def when(self, index: str, member: str) -> float | None:
        score = self.redis.zscore(self._ix(index), member)
        return None if score is None else float(score)

    def scheduled(self, index: str, high: float, low: float = float("-inf"),
                  limit: int = 1000) -> list[tuple[str, float]]:
        rows = self.redis.zrangebyscore(self._ix(index), low, high, start=0, num=limit, withscores=True)
        return [(m.decode() if isinstance(m, bytes) else m, float(a)) for m, a in rows]

    def size(self, index: str) -> int:
        return int(self.redis.zcard(self._ix(index)))
