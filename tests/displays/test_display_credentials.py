"""Who may call the displays' routes, as a client would send it: a display credential is only ever
one the kiosk issued, pairing hands the display a fresh one and retires the one it showed its code
with, every visit renews a paired display's cookie, new pairing codes are limited per client
address whatever cookie comes with them, and a browser the kiosk does not know writes nothing.

And the store that refuses writes (Redis at its maxmemory with noeviction, SQLite read-only or
full): /readyz says so and the customer's screens say "out of order, please see the cashier".
The flood and the full Redis run over real HTTP against `kiosk serve` (gunicorn) on a real Redis."""

from __future__ import annotations

import re
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import pytest
import requests
import time_machine

from kiosk.displays import pairing
from kiosk.displays.registry import NEW_CODES

from ..conftest import PIN, free_port
from ..support import Customer, Gunicorn, field, fill_redis, pairing_code

LIMIT, WINDOW = NEW_CODES  # new pairing codes per client address: N per seconds
COOKIE = "kiosk_display"
COOKIE_SECONDS = 400 * 24 * 3600
OUT_OF_ORDER = ("Hizmet dışı", "Lütfen kasaya başvurun.")  # the shop's language by default: Turkish
T0 = 1_800_000_000


def made_up(length: int = 43) -> str:
    """A credential the kiosk never issued: any 40 to 64 URL-safe characters."""
    return secrets.token_urlsafe(48)[:length]


def poll_url(html: str) -> str:
    match = re.search(r'hx-get="(/display/poll\?s=[0-9a-f]+)"', html)
    assert match, "the screen does not poll"
    return match.group(1)


def services(app):
    return app.extensions["kiosk"]


def display_cookies(response) -> list[str]:
    """The display credential cookies a response sets (Flask test client or requests)."""
    headers = response.headers.getlist("Set-Cookie") if hasattr(response.headers, "getlist") \
        else response.raw.headers.getlist("Set-Cookie")
    return [h for h in headers if h.startswith(f"{COOKIE}=")]


def everything(store) -> list[tuple[str, str]]:
    return store.items("")


# -- pairing codes: limited per client address, whatever cookie comes -------------------------


def test_new_codes_are_limited_per_address_whatever_cookie_comes_with_the_request(app):
    store = services(app).store
    with time_machine.travel(T0, tick=False) as clock:
        codes = set()
        for n in range(LIMIT):  # up to the limit: a cookie of its own making, or none
            web = app.test_client()
            sent = made_up(40 + n % 25) if n % 2 else None
            if sent:
                web.set_cookie(COOKIE, sent)
            response = web.get("/display")
            assert response.status_code == 200, n
            codes.add(pairing_code(response.get_data(as_text=True)))
            [issued] = display_cookies(response)
            assert issued.split(";")[0].split("=", 1)[1] != sent  # the kiosk's own, never the one sent
        assert len(codes) == LIMIT == len(store.items("pairing:"))
        before = everything(store)
        for cookie in (made_up(), made_up(64), None):  # one past the limit, however it comes
            web = app.test_client()
            if cookie:
                web.set_cookie(COOKIE, cookie)
            refused = web.get("/display")
            html = refused.get_data(as_text=True)
            assert refused.status_code == 429 and 'data-testid="pairing-code"' not in html
            assert display_cookies(refused) == []
        # Past the limit an unknown browser writes its address's counter and nothing else.
        after = everything(store)
        assert [k for k, _ in after] == [k for k, _ in before]
        assert [(k, v) for k, v in after if not k.startswith("rate:")] == \
            [(k, v) for k, v in before if not k.startswith("rate:")]
        elsewhere = app.test_client()
        elsewhere.environ_base["REMOTE_ADDR"] = "127.0.0.2"
        assert elsewhere.get("/display").status_code == 200  # another address has its own budget
        clock.shift(WINDOW - 0.001)  # the window starts with the address's first code
        assert app.test_client().get("/display").status_code == 429
        clock.shift(0.001)
        assert app.test_client().get("/display").status_code == 200


def test_a_renewed_code_counts_in_the_same_budget(app):
    with time_machine.travel(T0, tick=False) as clock:
        display = app.test_client()
        first = pairing_code(display.get("/display").get_data(as_text=True))
        for _ in range(LIMIT - 2):
            assert app.test_client().get("/display").status_code == 200
        clock.shift(pairing.VALID_SECONDS - pairing.RENEW_BEFORE - 0.001)
        assert pairing_code(display.get("/display").get_data(as_text=True)) == first  # still fresh
        clock.shift(0.001)
        renewed = pairing_code(display.get("/display").get_data(as_text=True))  # the limit's last
        assert renewed != first
        assert app.test_client().get("/display").status_code == 429


def test_the_poll_of_a_browser_the_kiosk_does_not_know_writes_nothing(app, tmp_path):
    store, displays = services(app).store, services(app).displays
    retired, code = displays.issue("192.0.2.9")  # a credential that showed a code, paired since
    displays.pair(code.code, "Counter 1", "till")
    displays.hand_over(retired)
    sessions = tmp_path / "state" / "sessions"
    before = everything(store), sorted(sessions.glob("*")) if sessions.exists() else []
    for cookie in (None, made_up(), made_up(64), "too-short", retired):
        web = app.test_client()
        if cookie:
            web.set_cookie(COOKIE, cookie)
        for token in ("", "0123456789abcdef"):
            response = web.get(f"/display/poll?s={token}")
            assert response.status_code == 200 and response.headers["HX-Redirect"] == "/display"
            assert "Set-Cookie" not in response.headers
    assert (everything(store), sorted(sessions.glob("*")) if sessions.exists() else []) == before


# -- fixation: a credential planted before pairing is worth nothing after it --------------------


def jar_with(url: str, credential: str) -> requests.Session:
    """A browser that holds `credential` as its display cookie, for the kiosk's host only."""
    browser = requests.Session()
    browser.cookies.set(COOKIE, credential, domain=url.split("//")[1].split(":")[0], path="/")
    return browser


def pair_over_http(url: str, code: str, name: str = "Counter 1", mode: str = "till") -> str:
    staff = requests.Session()
    html = staff.get(url + "/operator", timeout=10).text
    staff.post(url + "/operator", data={"csrf_token": field(html, "csrf_token"), "pin": PIN}, timeout=10)
    html = staff.get(url + "/operator/displays", timeout=10).text
    paired = staff.post(url + "/operator/displays", timeout=10, allow_redirects=False, data={
        "csrf_token": field(html, "csrf_token"), "code": code, "name": name, "mode": mode})
    assert paired.status_code == 303, paired.text[:300]
    return paired.headers["Location"].rsplit("paired=", 1)[1]


def test_a_planted_credential_is_not_the_display_once_the_display_collects_its_own(kiosk):
    server = kiosk(REQUIRE_PAIRING=True)
    url = server.url
    # Someone has the kiosk issue a credential on a device of their own...
    planted = requests.get(url + "/display", timeout=10).cookies[COOKIE]
    # ...and plants it in the shop's tablet before staff pair the tablet.
    tablet = jar_with(url, planted)
    shown = tablet.get(url + "/display", timeout=10)
    display_id = pair_over_http(url, pairing_code(shown.text))
    assert tablet.get(url + poll_url(shown.text), timeout=10).headers["HX-Redirect"] == "/display"
    handed = tablet.get(url + "/display", timeout=10)
    assert 'data-testid="display-idle"' in handed.text
    fresh = handed.cookies.get(COOKIE)
    assert fresh and fresh != planted and tablet.cookies.get(COOKIE) == fresh
    idle_poll = poll_url(handed.text)
    assert tablet.get(url + idle_poll, timeout=10).status_code == 200  # the display, with its own
    # The planted value is worth nothing now, from any device: not the display, no payment.
    again = jar_with(url, planted).get(url + "/display", timeout=10)
    assert 'data-testid="display-idle"' not in again.text and pairing_code(again.text)
    assert again.cookies.get(COOKIE) not in (None, planted, fresh)  # a browser of its own, unpaired
    assert jar_with(url, planted).get(url + "/", timeout=10, allow_redirects=False) \
        .headers["Location"] == "/display"
    assert jar_with(url, planted).get(url + idle_poll, timeout=10).headers["HX-Redirect"] == "/display"
    displays = services(server.app).displays
    assert displays.by_credential(planted) is None
    assert displays.by_credential(fresh).id == display_id
    text = repr(everything(services(server.app).store))
    assert planted not in text and fresh not in text  # the store keeps hashes only


def test_a_made_up_credential_is_never_paired(kiosk):
    url = kiosk().url
    made = made_up()
    tablet = jar_with(url, made)
    shown = tablet.get(url + "/display", timeout=10)
    issued = shown.cookies.get(COOKIE)
    assert issued and issued != made  # treated exactly as no cookie: the kiosk issues its own
    pair_over_http(url, pairing_code(shown.text))
    assert 'data-testid="display-idle"' in tablet.get(url + "/display", timeout=10).text
    assert 'data-testid="display-idle"' not in jar_with(url, made).get(url + "/display", timeout=10).text
    assert 'data-testid="display-idle"' not in jar_with(url, issued).get(url + "/display", timeout=10).text


def test_of_browsers_presenting_the_paired_credential_at_once_exactly_one_collects_it(kiosk):
    server = kiosk()
    url = server.url
    first = requests.get(url + "/display", timeout=10)
    credential = first.cookies[COOKIE]
    pair_over_http(url, pairing_code(first.text))
    start = threading.Barrier(6)

    def collect(_: int) -> requests.Response:
        browser = jar_with(url, credential)
        start.wait(10)
        return browser.get(url + "/display", timeout=20)

    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(collect, range(6)))
    won = [a for a in answers if 'data-testid="display-idle"' in a.text]
    assert len(won) == 1
    others = {a.cookies.get(COOKIE) for a in answers if a is not won[0]}
    assert won[0].cookies[COOKIE] not in others | {credential}
    assert all(pairing_code(a.text) for a in answers if a is not won[0])  # unpaired browsers again
    assert services(server.app).displays.by_credential(won[0].cookies[COOKIE]) is not None


# -- renewal -----------------------------------------------------------------------------------


def test_each_visit_renews_a_paired_displays_cookie(kiosk):
    server = kiosk()
    url = server.url
    with time_machine.travel(T0, tick=False) as clock:
        tablet = requests.Session()
        pair_over_http(url, pairing_code(tablet.get(url + "/display", timeout=10).text))
        credential = tablet.get(url + "/display", timeout=10).cookies[COOKIE]
        for days in (0, 399):  # a visit the day it was paired, and one 399 days later
            clock.shift(timedelta(days=days))
            visit = tablet.get(url + "/display", timeout=10)
            assert 'data-testid="display-idle"' in visit.text
            [cookie] = display_cookies(visit)
            assert cookie.startswith(f"{COOKIE}={credential};")
            assert f"Max-Age={COOKIE_SECONDS}" in cookie
            assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
            expires = parsedate_to_datetime(re.search(r"Expires=([^;]+)", cookie).group(1))
            assert expires == datetime.fromtimestamp(time.time(), UTC).replace(microsecond=0) \
                + timedelta(seconds=COOKIE_SECONDS)
        displays = services(server.app).displays
        displays.set_mode(displays.by_credential(credential), "keypad")
        keypad = tablet.get(url + "/display", timeout=10, allow_redirects=False)
        assert keypad.headers["Location"] == "/"  # a keypad display is sent on, renewed as well
        [cookie] = display_cookies(keypad)
        assert cookie.startswith(f"{COOKIE}={credential};") and f"Max-Age={COOKIE_SECONDS}" in cookie


# -- a store that refuses writes ---------------------------------------------------------------


def refuse_writes(store, how: str) -> None:
    """Make the app's SQLite store refuse writes on this thread's connection (Flask's test client
    runs each request on the test's own thread): read-only, or full."""
    import sqlite3

    db = store._db()
    if how == "read-only":
        db.execute("PRAGMA query_only=ON")
        return
    db.execute(f"PRAGMA max_page_count={db.execute('PRAGMA page_count').fetchone()[0]}")
    n = 0
    for size in (4000, 500, 50, 1):  # until not even a tiny entry finds room
        while True:
            n += 1
            try:
                store.set(f"filler:{n}", "x" * size)
            except sqlite3.OperationalError as exc:
                assert "full" in str(exc)
                break


def accept_writes(store, how: str) -> None:
    db = store._db()
    if how == "read-only":
        db.execute("PRAGMA query_only=OFF")
    else:
        db.execute("PRAGMA max_page_count=1073741823")


@pytest.mark.parametrize("how", ["read-only", "full"])
def test_when_the_store_refuses_writes_readyz_fails_and_the_screens_are_out_of_order(make_app, how):
    from kiosk.web import health

    from ..support import STAFF_PIN, pair_display, unlock_staff

    app = make_app(OPERATOR_PIN=STAFF_PIN, COINS="TRX:TRX")
    store = services(app).store
    staff = app.test_client()
    unlock_staff(staff)
    display = app.test_client()
    pair_display(staff, display)
    with time_machine.travel(time.time(), tick=False) as clock:
        idle = display.get("/display").get_data(as_text=True)
        assert 'data-testid="display-idle"' in idle
        refuse_writes(store, how)
        clock.shift(health.PROBE_SECONDS)  # past the last look at the store's writes
        customer = Customer(app.test_client())
        if how == "full":
            # A full SQLite still overwrites the probe's own entry in place: the first write that
            # needs room, here the customer's payment, finds it out.
            refused = customer.enter("10")
            assert refused.status_code == 503
            assert all(words in refused.get_data(as_text=True) for words in OUT_OF_ORDER)
        health._cache.update(at=0.0, health=None)
        ready = app.test_client().get("/readyz")
        health._cache.update(at=0.0, health=None)
        assert ready.status_code == 503
        assert ready.get_json() == {"status": "not ready", "reason": "store: refuses writes",
                                    "upstream_ms": None, "version": ready.get_json()["version"]}
        # The customer's screens: the amount screen, a new display, and the paired one, whose poll
        # sends it to /display to say so.
        assert display.get(poll_url(idle)).headers["HX-Redirect"] == "/display"
        for response in (customer.get("/"), app.test_client().get("/display"), display.get("/display")):
            html = response.get_data(as_text=True)
            assert response.status_code == 503 and 'data-testid="out-of-order"' in html, html[:300]
            assert all(words in html for words in OUT_OF_ORDER) and "Traceback" not in html
        out_of_order = display.get("/display").get_data(as_text=True)
        assert display.get(poll_url(out_of_order)).headers.get("HX-Redirect") is None  # it stays
        accept_writes(store, how)
        # The last refused write keeps the screens out of order for a minute, then the display
        # comes back by itself.
        clock.shift(health.REFUSAL_SECONDS - 0.001)
        assert display.get(poll_url(out_of_order)).headers.get("HX-Redirect") is None
        clock.shift(0.001)
        assert display.get(poll_url(out_of_order)).headers["HX-Redirect"] == "/display"
        assert 'data-testid="display-idle"' in display.get("/display").get_data(as_text=True)
        assert 'data-testid="amount-display"' in customer.get("/").get_data(as_text=True)
        health._cache.update(at=0.0, health=None)
        assert app.test_client().get("/readyz").get_json()["status"] == "ready"
        health._cache.update(at=0.0, health=None)


# -- a flood against `kiosk serve` on a Redis of 8 MB ----------------------------------------


def test_a_flood_makes_at_most_the_limit_of_codes_and_a_full_redis_is_out_of_order(
        sandbox, tmp_path, small_redis):
    url_of_redis, r = small_redis
    server = Gunicorn(sandbox.url, tmp_path, free_port(), REDIS_URL=url_of_redis)
    url = server.url
    try:

        def display(cookie: str | None) -> requests.Response:
            return requests.get(url + "/display", cookies={COOKIE: cookie} if cookie else None, timeout=20)

        # Up to the limit each new browser gets a code, whatever it sends; one past it, 429.
        codes = {pairing_code(a.text) for a in map(display, [made_up() for _ in range(LIMIT)])}
        assert len(codes) == LIMIT
        assert display(made_up()).status_code == 429
        with ThreadPoolExecutor(8) as flood:
            answers = list(flood.map(display, [made_up(40 + n % 25) for n in range(200)]))
            polls = list(flood.map(lambda n: requests.get(
                url + f"/display/poll?s={n:016x}", timeout=20,
                cookies={COOKIE: made_up()} if n % 2 else None), range(400)))
        assert {a.status_code for a in answers} == {429}
        assert {p.status_code for p in polls} == {200} and all(p.headers["HX-Redirect"] == "/display"
                                                               for p in polls)
        assert len(r.keys("kiosk:pairing:*")) == LIMIT
        assert len(r.keys("kiosk:session:*")) == 0  # no session for a browser the kiosk does not know
        # All the flood left: the codes, their browsers and one counter (the rest is the watcher's).
        left = sorted(k.decode().split(":")[1] for k in r.keys("kiosk:*") if not k.startswith(b"kiosk:jobs:"))
        assert left == ["display-new"] * LIMIT + ["pairing"] * LIMIT + ["rate"]
        assert r.info("memory")["used_memory"] < r.info("memory")["maxmemory"] / 4
        assert 'data-testid="amount-display"' in requests.get(url + "/", timeout=20).text
        assert requests.get(url + "/readyz", timeout=20).json()["status"] == "ready"

        fill_redis(r)  # the same Redis, written to directly until it refuses writes
        deadline = time.monotonic() + 15  # /readyz keeps its answer a few seconds per worker
        while (ready := requests.get(url + "/readyz", timeout=20)).status_code == 200:
            assert time.monotonic() < deadline, "readyz still says ready"
            time.sleep(0.2)
        assert ready.status_code == 503 and ready.json()["reason"] == "store: refuses writes"
        for path in ("/", "/display"):
            screen = requests.get(url + path, timeout=20)
            assert screen.status_code == 503 and 'data-testid="out-of-order"' in screen.text, path
            assert all(words in screen.text for words in OUT_OF_ORDER) and "Traceback" not in screen.text
    finally:
        server.stop()
