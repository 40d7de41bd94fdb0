"""The three rate limits (till API requests per key, new payments, new pairing codes) count where
every worker and every host sees the count. Two apps on one state folder are two gunicorn
workers of one host (they share nothing else); two apps with state folders of their own on one
real Redis are two hosts of a fleet. Each limit is pinned at its edge: the last one allowed, one
past it, on either app, and (on one host, where the kiosk's clock moves) the end of the window."""

from __future__ import annotations

import pytest
import time_machine

from kiosk import create_app
from kiosk.displays.registry import NEW_CODES
from kiosk.tills import ApiKeys

from ..conftest import kiosk_config
from ..support import Customer, pairing_code

T0 = 1_800_000_000.0


@pytest.fixture(params=["workers of a host", "hosts of a fleet"])
def apps(request, sandbox, tmp_path):
    """Two apps that count together, built with the given settings."""

    def build(**settings):
        if request.param == "hosts of a fleet":
            redis_url = request.getfixturevalue("redis_url")
            return [create_app(kiosk_config(sandbox, tmp_path / host, REDIS_URL=redis_url, **settings))
                    for host in ("host-a", "host-b")]
        return [create_app(kiosk_config(sandbox, tmp_path / "state", **settings)) for _ in range(2)]

    build.fleet = request.param == "hosts of a fleet"
    return build


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_a_till_key_s_requests_are_counted_together(apps):
    one, two = apps(API_RATE_LIMIT="5/60")
    keys = ApiKeys(one.extensions["kiosk"].store)
    key, other = keys.create("front"), keys.create("back")
    with time_machine.travel(T0, tick=False) as clock:
        answers = [(one if n % 2 else two).test_client().get("/api/v1/displays", headers=bearer(key))
                   for n in range(5)]
        assert [a.status_code for a in answers] == [200] * 5  # the limit's last, on either app
        clock.shift(30)
        for app in (one, two):  # one past it, wherever it lands
            refused = app.test_client().get("/api/v1/displays", headers=bearer(key))
            assert refused.status_code == 429
            assert refused.get_json() == {"error": {"code": "rate_limited",
                                                    "message": "More than 5 requests in 60 s with this key."}}
            if not apps.fleet:  # Redis keeps its own time: the window's end is pinned on one host
                assert refused.headers["Retry-After"] == "30"
            else:
                assert 1 <= int(refused.headers["Retry-After"]) <= 60
        assert two.test_client().get("/api/v1/displays", headers=bearer(other)).status_code == 200
        assert one.test_client().get("/api/v1/openapi.json").status_code == 200  # no key, no count
        if not apps.fleet:
            clock.shift(30 - 0.001)  # the window opened with the key's first request
            assert one.test_client().get("/api/v1/displays", headers=bearer(key)).status_code == 429
            clock.shift(0.001)
            assert two.test_client().get("/api/v1/displays", headers=bearer(key)).status_code == 200


def test_flask_limiter_s_own_switches_are_not_settings(sandbox, tmp_path, monkeypatch):
    """Every KIOSK_* reaches the app's config: Flask-Limiter's own RATELIMIT_* (headers that
    tell a till its remaining count, errors of the count's store swallowed, the switch) must not
    come with them."""
    for name in ("HEADERS_ENABLED", "SWALLOW_ERRORS", "ENABLED"):
        monkeypatch.setenv(f"KIOSK_RATELIMIT_{name}", "false")
    app = create_app(kiosk_config(sandbox, tmp_path / "state", API_RATE_LIMIT="1/60"))
    key = ApiKeys(app.extensions["kiosk"].store).create("front")
    answers = [app.test_client().get("/api/v1/displays", headers=bearer(key)) for _ in range(2)]
    assert [a.status_code for a in answers] == [200, 429]
    assert not [k for k, _v in answers[0].headers.items() if k.lower().startswith("x-ratelimit")]


def counters(app) -> list[str]:
    """Every rate-limit counter the app's hosts share."""
    services = app.extensions["kiosk"]
    if services.redis is not None:
        return sorted(k.decode() for k in services.redis.keys("kiosk:rate:*"))
    return [k for k, _v in services.store.items("rate:")]


def test_an_unknown_key_counts_nothing(apps):
    one, two = apps(API_RATE_LIMIT="2/60")
    key = ApiKeys(one.extensions["kiosk"].store).create("front")
    forged = bearer("kiosk_" + "x" * 43)
    assert [one.test_client().get("/api/v1/displays", headers=forged).status_code
            for _ in range(5)] == [401] * 5
    assert counters(one) == []
    assert [two.test_client().get("/api/v1/displays", headers=bearer(key)).status_code
            for _ in range(3)] == [200, 200, 429]
    assert len(counters(one)) == (1 if apps.fleet else 2)  # the key's count (in a file: and its end)


def test_new_payments_from_an_address_are_counted_together(apps, sandbox):
    one, two = apps(CREATE_LIMIT="2/60", COINS="TRX:TRX")
    first, second = Customer(one.test_client(), sandbox), Customer(two.test_client(), sandbox)
    assert first.enter("10").status_code == 303
    assert second.enter("10").status_code == 303  # the limit's last: another session, the same address
    for customer in (first, second):
        customer.next_customer()
        refused = customer.enter("10")
        assert refused.status_code == 429 and "çok fazla yeni ödeme" in refused.get_data(as_text=True)
    assert sandbox.calls("create") == 2


def test_new_pairing_codes_from_an_address_are_counted_together(apps):
    one, two = apps()
    limit, _window = NEW_CODES
    for n in range(limit):  # each a new browser, on either app
        shown = (one if n % 2 else two).test_client().get("/display")
        assert shown.status_code == 200, n
        pairing_code(shown.get_data(as_text=True))
    for app in (one, two):
        assert app.test_client().get("/display").status_code == 429
    if apps.fleet:  # the count is in the fleet's Redis, not in a host's file
        redis = one.extensions["kiosk"].redis
        assert [k.decode() for k in redis.keys("kiosk:rate:pairing/*")] == \
            [f"kiosk:rate:pairing/127.0.0.1/{limit}/{_window}/second"]
