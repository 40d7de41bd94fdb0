"""An outsider's attacks on the kiosk's doors: the staff's Lock racing a tap still on its way, a
stranger's requests to every route (what they answer, what they write), forged and replayed ids.

Each of these once held or was fixed; they stay as regression tests."""

from __future__ import annotations

import secrets

import pytest

from ..conftest import PIN
from ..support import field

PREFIX = "kiosk:session:"


def unlock(web) -> str:
    html = web.get("/operator").get_data(as_text=True)
    answer = web.post("/operator", data={"csrf_token": field(html, "csrf_token"), "pin": PIN})
    assert answer.status_code == 303
    return web.get_cookie("kiosk_session").value


def is_unlocked(app, sid: str) -> bool:
    other = app.test_client()
    other.set_cookie("kiosk_session", sid)
    return other.get("/operator/settings").status_code == 200


@pytest.fixture(params=["files", "redis"])
def staff_app(request, make_app):
    if request.param == "files":
        return make_app(COINS="TRX:TRX")
    return make_app(COINS="TRX:TRX", REDIS_URL=request.getfixturevalue("redis_url"))


def test_lock_is_not_undone_by_a_tap_still_on_its_way(staff_app):
    """A tap of the unlocked browser read its session just before Lock; its answer is saved
    after Lock gave the browser a new id and deleted the old one. The old id must stay dead (the
    tap used to write it back, unlocked, and hand its cookie to the browser again)."""
    app = staff_app
    web = app.test_client()
    before = unlock(web)
    html = web.get("/operator/today").get_data(as_text=True)

    # The tap: its request has read the session (still unlocked) ...
    with app.test_request_context("/operator/history", headers={"Cookie": f"kiosk_session={before}"}):
        from flask import session

        from kiosk.web import staff

        tap = session._get_current_object()
        assert staff.unlocked(staff.OPERATOR)
        staff.touch(staff.OPERATOR)  # ... and, let in, keeps the area open
    # ... while Lock, pressed now, ends every unlock of this browser.
    locked = web.post("/operator/lock", data={"csrf_token": field(html, "csrf_token")})
    assert locked.status_code == 303
    after = web.get_cookie("kiosk_session").value
    assert after != before
    # The tap's answer goes out last.
    with app.test_request_context("/operator/history"):
        response = app.response_class("")
        app.session_interface.save_session(app, tap, response)
    assert not any(c.startswith(f"kiosk_session={before}") for c in response.headers.getlist("Set-Cookie"))
    assert not is_unlocked(app, before)
    assert not is_unlocked(app, after)


def test_an_idle_lock_is_not_undone_by_a_tap_of_the_old_id(staff_app):
    """The same for the id an unlock replaces: a request that read the pre-unlock session and
    is saved after the unlock does not bring that id back."""
    app = staff_app
    web = app.test_client()
    web.get("/")
    before = web.get_cookie("kiosk_session").value
    with app.test_request_context("/", headers={"Cookie": f"kiosk_session={before}"}):
        from flask import session

        look = session._get_current_object()
        session["locale"] = "en"
    after = unlock(web)
    assert after != before
    with app.test_request_context("/"):
        app.session_interface.save_session(app, look, app.response_class(""))
    fresh = app.test_client()
    fresh.set_cookie("kiosk_session", before)
    fresh.get("/")
    assert fresh.get_cookie("kiosk_session").value != before  # an unknown id: a new session


# -- a stranger at every door --------------------------------------------------------------------

ROUTES = [
    ("GET", "/"), ("POST", "/"), ("GET", "/coin"), ("POST", "/coin"), ("POST", "/done"),
    ("POST", "/language"), ("POST", "/reset"), ("GET", "/pay/{id}"), ("POST", "/pay/{id}/cancel"),
    ("GET", "/pay/{id}/qr.png"), ("GET", "/pay/{id}/status"), ("GET", "/receipt/{id}"),
    ("GET", "/receipt/{id}/qr.svg"), ("GET", "/result/{id}"), ("POST", "/display/cancel"),
    ("POST", "/display/coin"), ("GET", "/display/poll"), ("GET", "/operator"), ("POST", "/operator"),
    ("POST", "/operator/lock"), ("GET", "/till"), ("POST", "/till"), ("POST", "/till/lock"),
    ("POST", "/till/charge"), ("GET", "/till/checkout/{id}"), ("POST", "/till/checkout/{id}/cancel"),
    ("GET", "/till/checkout/{id}/status"), ("POST", "/operator/displays"),
    ("POST", "/operator/displays/{id}/unpair"), ("POST", "/operator/displays/{id}/mode"),
    ("POST", "/operator/keys/{id}/revoke"), ("POST", "/operator/tx/{id}/cancel"),
    ("GET", "/operator/tx/{id}"), ("POST", "/api/v1/checkouts"), ("DELETE", "/api/v1/displays/{id}"),
    ("GET", "/api/v1/checkouts/{id}"), ("GET", "/nowhere"),
]
OWNED = ("/pay/", "/receipt/", "/result/", "/display/c")


def test_a_strangers_burst_writes_nothing_but_bounded_counters(make_app, redis_url):
    """Forged session ids, forged display credentials, forged forwarding headers and random ids,
    three rounds over every door: each answers as an unknown id does, and the store grows by
    first-look sessions and pairing codes within their per-address limits, and their counters."""
    import redis

    app = make_app(COINS="TRX:TRX", REDIS_URL=redis_url, CASHIER_PIN="135792")
    store = redis.Redis.from_url(redis_url)
    before = set(store.keys())
    requests = 0
    for _round in range(3):
        for method, path in ROUTES:
            for cookie in (None, ("kiosk_session", secrets.token_urlsafe(32)),
                           ("kiosk_display", secrets.token_urlsafe(32))):
                web = app.test_client()
                if cookie:
                    web.set_cookie(*cookie)
                answer = web.open(path.format(id=secrets.token_hex(8)), method=method,
                                  data={"pin": "000000", "csrf_token": "x", "amount": "10"},
                                  headers={"X-Forwarded-For": f"10.9.{requests % 250}.1",
                                           "X-Forwarded-Host": "evil.example"})
                requests += 1
                assert answer.status_code != 500
                if path.startswith(OWNED) and method == "GET" or path.startswith("/display/c"):
                    assert answer.status_code == 404, (method, path)
                if path.startswith("/api/"):
                    assert answer.status_code == 401, (method, path)
                assert "evil.example" not in answer.headers.get("Location", "")
    grown = {k.decode() for k in set(store.keys()) - before} - {"kiosk:health:write-probe"}  # one key
    kinds = {k.split(":")[1] for k in grown}
    assert kinds <= {"session", "rate"}, sorted(grown)
    sessions = [k for k in grown if k.startswith(PREFIX)]
    assert len(sessions) <= 120  # sessions.NEW_SESSIONS for the one client address
    assert not any(store.keys("kiosk:pin*")) and not any(store.keys("kiosk:guard*"))


def test_a_display_credential_the_kiosk_never_issued_is_no_credential(app):
    web = app.test_client()
    web.set_cookie("kiosk_display", "A" * 43)
    assert web.get("/display/poll?s=x").headers.get("HX-Redirect") == "/display"
    page = web.get("/display")
    assert page.status_code == 200
    issued = web.get_cookie("kiosk_display").value
    assert issued != "A" * 43  # the kiosk's own, not the one the browser came with
