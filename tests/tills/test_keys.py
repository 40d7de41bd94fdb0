"""The till API's keys in the store: a key's last use is written at most once a minute, so a busy
till does not write on every request; revoking or making a key anew forgets it."""

from __future__ import annotations

import pytest
import time_machine

from kiosk.checkout import LocalStore
from kiosk.checkout.store import RedisStore
from kiosk.tills.keys import USED_EVERY, ApiKeys

START = 1_800_000_000.0


@pytest.fixture(params=["sqlite", "redis"])
def keys(request, tmp_path) -> ApiKeys:
    if request.param == "sqlite":
        return ApiKeys(LocalStore(tmp_path / "kiosk.sqlite3"))
    import redis

    return ApiKeys(RedisStore(redis.Redis.from_url(request.getfixturevalue("redis_url"))))


class Writes:
    """Counts the store's writes of one key."""

    def __init__(self, keys: ApiKeys, key: str) -> None:
        self.count = 0
        store, real = keys.store, keys.store.set

        def counting(name: str, value: str, ttl: float | None = None) -> None:
            self.count += name == key
            real(name, value, ttl)

        store.set = counting  # type: ignore[method-assign]


def test_a_new_key_was_never_used(keys):
    keys.create("till-1")
    assert keys.last_used("till-1") is None
    assert keys.last_used("nobody") is None


def test_the_last_use_is_written_at_most_once_a_minute(keys):
    assert USED_EVERY == 60
    with time_machine.travel(START, tick=False) as clock:
        key = keys.create("till-1")
        writes = Writes(keys, "apikey-used:till-1")
        assert keys.verify(key) == "till-1"
        assert keys.last_used("till-1") == START and writes.count == 1
        clock.shift(USED_EVERY - 0.001)  # one millisecond before the minute: no write
        for _ in range(5):
            assert keys.verify(key) == "till-1"
        assert keys.last_used("till-1") == START and writes.count == 1
        clock.shift(0.001)  # at the minute: written
        assert keys.verify(key) == "till-1"
        assert keys.last_used("till-1") == START + USED_EVERY and writes.count == 2
        clock.shift(1)
        keys.verify(key)
        assert keys.last_used("till-1") == START + USED_EVERY and writes.count == 2


def test_a_wrong_key_is_no_use(keys):
    with time_machine.travel(START, tick=False):
        key = keys.create("till-1")
        assert keys.verify(key[:-1] + ("A" if key[-1] != "A" else "B")) is None
        assert keys.verify(None) is None
        assert keys.last_used("till-1") is None


def test_revoke_and_a_new_key_of_the_same_name_forget_the_last_use(keys):
    with time_machine.travel(START, tick=False) as clock:
        key = keys.create("till-1")
        keys.verify(key)
        assert keys.revoke("till-1")
        assert keys.verify(key) is None and keys.last_used("till-1") is None
        keys.store.set("apikey-used:till-1", repr(START))  # a request that verified just before
        clock.shift(5)
        keys.create("till-1")
        assert keys.last_used("till-1") is None
        assert [k.name for k in keys.all()] == ["till-1"]  # the last use is no key of its own
