"""A session that has done nothing yet (a first look at a screen, or a bot that never sends its
cookie back) is kept for a day, not a month: cookieless requests cannot fill a fleet's Redis for
a month, nor push a tablet's session with its open payment out of the single-host store."""

from __future__ import annotations

import struct

import time_machine

from ..support import Customer, field

START = 1_800_000_000
DAY = 24 * 3600
MONTH = 30 * DAY


def sid_of(web) -> str:
    return web.get_cookie("kiosk_session").value


def file_expiry(app, web) -> int:
    """When the single-host store will drop this browser's session (epoch seconds)."""
    inner = app.session_interface.inner
    with open(inner.cache._get_filename(inner.key_prefix + sid_of(web)), "rb") as fh:
        return struct.unpack("I", fh.read(4))[0]


def test_a_first_look_is_kept_a_day_a_kiosk_that_sold_a_month(make_app, sandbox):
    app = make_app(COINS="TRX:TRX")
    with time_machine.travel(START, tick=False):
        bot = app.test_client()
        assert bot.get("/").status_code == 200
        tablet = Customer(app.test_client(), sandbox)
        tablet.start("300")
        chooser = app.test_client()
        html = chooser.get("/").get_data(as_text=True)
        chooser.post("/language", data={"csrf_token": field(html, "csrf_token"), "locale": "en"})
        assert file_expiry(app, bot) == START + DAY
        assert file_expiry(app, tablet.web) == START + MONTH
        assert file_expiry(app, chooser) == START + MONTH  # chose a language: kept


def test_a_flood_of_first_looks_never_pushes_out_a_tablet_with_a_payment(make_app, sandbox):
    """The single-host store holds a bounded number of sessions and, when full, drops the ones
    that expire first: a first look's day ends before any tablet's month."""
    app = make_app(COINS="TRX:TRX")
    app.session_interface.inner.cache._threshold = 20
    with time_machine.travel(START, tick=False) as clock:
        tablet = Customer(app.test_client(), sandbox)
        tx_id = tablet.start("300")
        clock.shift(60)  # a minute later: each first look would outlive the tablet's month by a minute
        for _ in range(60):
            app.test_client().get("/")
        assert tablet.poll(tx_id) == ("waiting", None)  # still its own payment


def test_in_redis_a_first_look_lives_a_day_a_kiosk_that_sold_a_month(make_app, sandbox, redis_url):
    import redis

    app = make_app(COINS="TRX:TRX", REDIS_URL=redis_url)
    client = redis.Redis.from_url(redis_url)
    bot = app.test_client()
    bot.get("/")
    tablet = Customer(app.test_client(), sandbox)
    tablet.start("300")
    assert DAY - 5 <= client.ttl("kiosk:session:" + sid_of(bot)) <= DAY
    assert MONTH - 5 <= client.ttl("kiosk:session:" + sid_of(tablet.web)) <= MONTH


def test_an_amount_screen_shown_again_keeps_a_first_look_alive(make_app, sandbox):
    """A tablet left on the amount screen overnight loads it again now and then (kiosk.js): each
    showing keeps its session another day, so the next morning's first customer is not told the
    page expired. A session that has done nothing still lives a day from its last showing."""
    app = make_app(COINS="TRX:TRX")
    with time_machine.travel(START, tick=False) as clock:
        tablet = Customer(app.test_client(), sandbox)
        tablet.amount_page()
        assert file_expiry(app, tablet.web) == START + DAY
        clock.shift(DAY - 6 * 3600)  # the screen loads itself again after six idle hours
        tablet.amount_page()
        assert file_expiry(app, tablet.web) == START + 2 * DAY - 6 * 3600
        clock.shift(DAY - 7 * 3600)  # the first customer: past the first showing's day
        response = tablet.enter("300")
        assert response.status_code == 303 and "/pay/" in response.headers["Location"]
        assert sandbox.calls("create") == 1


def test_a_first_look_not_shown_again_expires_after_its_day(make_app, sandbox):
    app = make_app(COINS="TRX:TRX", DEFAULT_LOCALE="en")
    with time_machine.travel(START, tick=False) as clock:
        tablet = Customer(app.test_client(), sandbox)
        html = tablet.amount_page()
        clock.shift(DAY + 1)
        response = tablet.post("/", {"csrf_token": field(html, "csrf_token"), "nonce": field(html, "nonce"),
                                     "amount": "300"})
        assert response.status_code == 303 and response.headers["Location"] == "/"
        assert "This page expired" in tablet.amount_page()
        assert sandbox.calls("create") == 0


def test_in_redis_new_sessions_from_one_address_are_bounded(make_app, sandbox, redis_url):
    """A script that never sends its cookie back makes a new session on every look: in a
    fleet's Redis, one address gets at most NEW_SESSIONS[0] of them per window, and the screen
    still answers. Another address, and a browser that keeps its cookie, are not held back."""
    import redis

    from kiosk.web.sessions import NEW_SESSIONS

    count, _window = NEW_SESSIONS
    app = make_app(COINS="TRX:TRX", REDIS_URL=redis_url)
    client = redis.Redis.from_url(redis_url)

    def sessions() -> int:
        return len(client.keys("kiosk:session:*"))

    for look in range(count + 1):
        stranger = app.test_client()
        stranger.environ_base["REMOTE_ADDR"] = "10.0.0.7"
        assert stranger.get("/").status_code == 200, look
    assert sessions() == count  # at the limit, and the one past it wrote nothing
    kept = app.test_client()
    kept.environ_base["REMOTE_ADDR"] = "10.0.0.8"
    kept.get("/")
    assert sessions() == count + 1
    kept.post("/language", data={"csrf_token": field(kept.get("/").get_data(as_text=True), "csrf_token"),
                                 "locale": "en"})
    assert 'lang="en"' in kept.get("/").get_data(as_text=True)  # its session works as ever
