"""Where the upstream token lives: in memory, in a file shared by a host's workers, or in Redis
shared by a fleet. Each store gives back what it was given, forgets on None, survives garbage."""

from __future__ import annotations

import os
import stat
import threading
from decimal import Decimal

import pytest
import redis
import time_machine

from kiosk.cryptom import FileTokenStore, RedisTokenStore, Unavailable
from kiosk.cryptom.models import Token
from kiosk.cryptom.tokens import MemoryTokenStore, token_from_auth

NOW = 1_800_000_000.0
TOKEN = Token(access_token="eyJ.access.token", expires_at=NOW + 3600)


def round_trip(store) -> None:
    assert store.load() is None
    store.save(TOKEN)
    assert store.load() == TOKEN
    store.save(None)
    assert store.load() is None
    store.save(None)  # forgetting twice is fine
    assert store.load() is None


def test_memory_store():
    round_trip(MemoryTokenStore())


def test_file_store_in_a_new_nested_folder_readable_by_the_kiosk_only(tmp_path):
    path = tmp_path / "a" / "b" / "token.json"
    store = FileTokenStore(path)
    round_trip(store)
    store.save(TOKEN)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert FileTokenStore(path).load() == TOKEN  # another worker of the host reads it
    path.write_text("{not json")
    assert store.load() is None


def test_file_store_lock_excludes_other_threads(tmp_path):
    store = FileTokenStore(tmp_path / "token.json")
    inside: list[int] = []
    overlaps: list[int] = []

    def hold(n: int) -> None:
        for _ in range(20):
            with store.lock():
                inside.append(n)
                if len(inside) > 1:
                    overlaps.append(n)
                inside.remove(n)

    threads = [threading.Thread(target=hold, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert overlaps == []


def test_redis_store_keeps_the_token_a_minute_past_its_expiry(redis_url):
    client = redis.Redis.from_url(redis_url)
    store = RedisTokenStore(client, key="kiosk:test-token")
    with time_machine.travel(NOW, tick=False):
        round_trip(store)
        store.save(TOKEN)
        assert client.ttl("kiosk:test-token") == 3600 + 60
        assert RedisTokenStore(client, key="kiosk:test-token").load() == TOKEN  # another instance
        store.save(Token("old", NOW - 3600))  # already expired: kept briefly, never forever
        assert client.ttl("kiosk:test-token") == 1
    client.set("kiosk:test-token", b"\x80garbage")
    assert store.load() is None


def test_redis_lock_lets_one_instance_in_at_a_time(redis_url):
    one = RedisTokenStore(redis.Redis.from_url(redis_url))
    two = RedisTokenStore(redis.Redis.from_url(redis_url))
    with one.lock():
        lock = two.redis.lock(two.key + ":lock", blocking_timeout=0.1)
        assert not lock.acquire()  # the same lock name, held by the other instance
    with two.lock():
        pass


def test_redis_lock_frees_itself_after_a_crashed_holder_and_bounds_the_wait(redis_url):
    """A holder that dies mid-login frees the lock 15 s later (longer than a login can take);
    another instance waits 20 s for it at most."""
    store = RedisTokenStore(redis.Redis.from_url(redis_url))
    lock = store.lock()
    assert (lock.timeout, lock.blocking_timeout) == (15, 20)
    with lock:
        assert 14_000 < store.redis.pttl(store.key + ":lock") <= 15_000


@pytest.mark.parametrize("store_kind", ["memory", "file"])
def test_the_token_is_never_shared_between_unrelated_stores(tmp_path, store_kind):
    make = (lambda n: MemoryTokenStore()) if store_kind == "memory" else (
        lambda n: FileTokenStore(tmp_path / f"{n}.json"))
    first, second = make(1), make(2)
    first.save(TOKEN)
    assert second.load() is None


@pytest.mark.parametrize("kind", ["memory", "file", "redis"])
def test_a_refused_login_is_kept_beside_the_token(tmp_path, request, kind):
    """Every store gives the refusal back to every worker, forgets it on None, and reads
    garbage as no refusal; in Redis it outlives its pause by a day (the back-off grows)."""
    from kiosk.cryptom.models import Refusal

    if kind == "redis":
        client = redis.Redis.from_url(request.getfixturevalue("redis_url"))
        make = lambda: RedisTokenStore(client, key="kiosk:test-token")  # noqa: E731
    elif kind == "file":
        make = lambda: FileTokenStore(tmp_path / "token.json")  # noqa: E731
    else:
        shared = MemoryTokenStore()
        make = lambda: shared  # noqa: E731
    refusal = Refusal("a1b2c3d4e5f6", NOW + 60, 2)
    with time_machine.travel(NOW, tick=False):
        store = make()
        assert store.load_refusal() is None
        store.save_refusal(refusal)
        assert make().load_refusal() == refusal
        if kind == "redis":
            assert client.ttl("kiosk:test-token:refused") == 60 + 86400
            client.set("kiosk:test-token:refused", b"\x80garbage")
            assert store.load_refusal() is None
        if kind == "file":
            assert stat.S_IMODE(os.stat(tmp_path / "token.json.refused").st_mode) == 0o600
            (tmp_path / "token.json.refused").write_text('{"who": 1}')
            assert store.load_refusal() is None
        store.save_refusal(None)
        assert make().load_refusal() is None
        store.save_refusal(None)


@pytest.mark.parametrize("access", [None, "", 12345, ["eyJ.access.token"], {"token": "x"}])
def test_a_login_answered_without_an_access_token_is_upstream_unavailable(access):
    answer = {"status": True, "expires": {"accessToken": 3_600_000}}
    if access is not None:
        answer["accessToken"] = access
    with pytest.raises(Unavailable) as error:
        token_from_auth(answer, NOW)
    assert error.value.message == "upstream login answered without an access token"
    assert token_from_auth({**answer, "accessToken": "eyJ.a"}, NOW).access_token == "eyJ.a"


MS = 1000


@pytest.mark.parametrize(("answer", "expires_at"), [
    ({"expires": {"accessToken": 3600 * MS}}, NOW + 3600 - 60),  # an hour: renewed a minute early
    ({"expires": {"accessToken": Decimal(3600 * MS)}}, NOW + 3600 - 60),
    ({"expiresIn": {"accessToken": int(NOW + 3600) * MS}}, NOW + 3600 - 60),  # the moment, in ms
    ({"expires": {"accessToken": 3600 * MS}, "expiresIn": {"accessToken": int(NOW + 1800) * MS}},
     NOW + 1800 - 60),  # the earlier of the two
    ({"expires": {"accessToken": 1800 * MS}, "expiresIn": {"accessToken": int(NOW + 3600) * MS}},
     NOW + 1800 - 60),
    ({"expires": {"accessToken": 600 * MS}}, NOW + 600 - 60),  # a tenth of it is the minute
    ({"expires": {"accessToken": 300 * MS}}, NOW + 300 - 30),  # short: renewed at nine tenths
    ({}, NOW + 300 - 30),  # no lifetime given: five minutes
    ({"expires": "3600000", "expiresIn": None}, NOW + 300 - 30),  # not what the document says
    ({"expires": {"accessToken": "3600000"}, "expiresIn": {"accessToken": 1.5}}, NOW + 300 - 30),
    ({"expires": {"accessToken": -5 * MS}}, NOW - 5),  # already dead: no margin
], ids=["expires", "decimal", "expiresIn", "earlier-expiresIn", "earlier-expires", "ten-minutes",
        "five-minutes", "none", "not-objects", "not-numbers", "dead"])
def test_a_tokens_lifetime_is_read_from_the_login_answer(answer, expires_at):
    """`expires` (milliseconds of life) and `expiresIn` (the moment, in epoch milliseconds), the
    earlier of the two, never the JWT's own `exp`; renewed a minute early, or at nine tenths of a
    short life."""
    token = token_from_auth({"accessToken": "eyJ.a", **answer}, NOW)
    assert token == Token(access_token="eyJ.a", expires_at=expires_at)
