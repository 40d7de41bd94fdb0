"""Fixed-window rate limits, counted where every worker and every host sees the same count.

The counting is the `limits` library's (the engine of Flask-Limiter, which limits the till API
per key): a window opens with its first count and lasts its seconds; a count past the limit is
refused until it ends. The counts live in the kiosk's shared store: with KIOSK_REDIS_URL in
Redis (`limits`' own Redis storage, on the kiosk's connections), else in the SQLite file of the
state folder that all the workers of the host share (`StoreStorage`, below: `limits` keeps its
memory storage per process, which would give each gunicorn worker a count of its own).

Keys: `rate:<name>/<who>/<count>/<seconds>/second` in the SQLite store (with `…@reset`, when
its window ends), `kiosk:rate:<name>/…` in Redis.
"""

from __future__ import annotations

from typing import Any

from limits import RateLimitItem, RateLimitItemPerSecond
from limits.storage import RedisStorage, Storage
from limits.strategies import FixedWindowRateLimiter

from .. import clock
from .store import Store

SCHEME = "kiosk-store"  # the URI scheme of StoreStorage, for Flask-Limiter's storage_uri
PREFIX = "rate:"
REDIS_PREFIX = "kiosk:rate"


class StoreStorage(Storage):
    """A `limits` storage over the kiosk's store (the SQLite file of one host): an atomic
    counter per window, and the moment the window ends beside it."""

    STORAGE_SCHEME = [SCHEME]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, *, store: Store,
                 **options: Any) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions)
        self.store = store

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return Exception

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        count = 0
        for _ in range(amount):  # one step at a time: the kiosk's limits count one at a time
            count = self.store.incr(PREFIX + key, ttl=expiry)
        if count == amount:  # this count opened the window
            self.store.set(PREFIX + key + "@reset", repr(clock.now() + expiry), ttl=expiry)
        return count

    def get(self, key: str) -> int:
        return int(self.store.get(PREFIX + key) or 0)

    def get_expiry(self, key: str) -> float:
        return float(self.store.get(PREFIX + key + "@reset") or clock.now())

    def check(self) -> bool:
        return True

    def reset(self) -> int | None:
        found = self.store.items(PREFIX)
        for stored, _value in found:
            self.store.delete(stored)
        return len(found)

    def clear(self, key: str) -> None:
        self.store.delete(PREFIX + key)
        self.store.delete(PREFIX + key + "@reset")


def storage_for(store: Store, redis: Any = None) -> Storage:
    """Where the kiosk's limits count: Redis for a fleet (the client given), else `store`."""
    if redis is not None:
        return RedisStorage("redis://", connection_pool=redis.connection_pool, key_prefix=REDIS_PREFIX)
    return StoreStorage(store=store)


def flask_limiter_storage(store: Store, redis: Any = None) -> tuple[str, dict[str, Any]]:
    """The same place for Flask-Limiter, which builds its storage from a URI and options."""
    if redis is not None:
        return "redis://", {"connection_pool": redis.connection_pool, "key_prefix": REDIS_PREFIX}
    return f"{SCHEME}://", {"store": store}


class Window:
    """`count` per `seconds` for each caller (a client address, a kiosk session...), the window
    opening with the caller's first count."""

    def __init__(self, storage: Storage, name: str, limit: tuple[int, int]) -> None:
        count, seconds = limit
        self.count, self.seconds = count, seconds
        self.item: RateLimitItem = RateLimitItemPerSecond(count, seconds, namespace=name)
        self.limiter = FixedWindowRateLimiter(storage)

    def hit(self, who: str) -> bool:
        """Count one for `who`; False once past the limit in this window (the count goes on)."""
        return self.limiter.hit(self.item, who)
