"""Production concerns: security headers, probes, rate limits, logs, Redis for a fleet, gunicorn."""

from __future__ import annotations

import json
import logging
import re
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
import time_machine

from kiosk import logs
from kiosk.sandbox import DEFAULT_PASSWORD

from ..conftest import PIN, free_port
from ..support import Customer, Gunicorn, LiveServer, field, unlock_staff

ROOT = Path(__file__).resolve().parents[2]


# -- headers ----------------------------------------------------------------------------------


def test_security_headers_on_every_route(customer, sandbox):
    tx_id = customer.start()
    urls = ["/", "/coin", f"/pay/{tx_id}", f"/pay/{tx_id}/qr.png", f"/result/{tx_id}", "/operator",
            "/operator/today", "/healthz", "/readyz", "/static/kiosk.css", "/nope", "/pay/x" * 3]
    for url in urls:
        response = customer.web.get(url)
        headers = response.headers
        csp = headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp, url
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "same-origin"
        assert "camera=()" in headers["Permissions-Policy"]
    status = customer.status(tx_id)
    assert "Content-Security-Policy" in status.headers


def test_secure_cookies_when_asked(make_app):
    web = make_app(SECURE_COOKIES=True).test_client()
    response = web.get("/")
    cookie = response.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie


def test_static_assets_are_versioned_and_cached_for_long(web):
    html = web.get("/").get_data(as_text=True)
    css = re.search(r'href="(/static/kiosk\.css\?v=[0-9a-f]+)"', html).group(1)
    response = web.get(css)
    assert "max-age=31536000" in response.headers["Cache-Control"]


# -- probes -----------------------------------------------------------------------------------


def test_healthz_and_readyz(make_app, sandbox, watcher):
    from kiosk.web import health

    health._cache.update(at=0.0, health=None)
    app = make_app()
    watcher(app)
    web = app.test_client()
    assert web.get("/healthz").get_json()["status"] == "ok"
    ready = web.get("/readyz")
    assert ready.status_code == 200 and ready.get_json()["status"] == "ready"
    calls = sandbox.calls("history")
    for _ in range(5):
        web.get("/readyz")
    assert sandbox.calls("history") == calls  # cached: probes do not hammer upstream
    health._cache.update(at=0.0, health=None)
    sandbox.faults(fail_next=10)
    down = web.get("/readyz")
    assert down.status_code == 503 and down.get_json()["status"] == "not ready"
    assert down.get_json()["reason"] == "upstream: not reachable"
    assert "Internal server error" not in down.get_data(as_text=True)  # upstream's own words stay out
    assert web.get("/healthz").status_code == 200
    health._cache.update(at=0.0, health=None)


def test_readyz_fails_when_the_watcher_has_not_run_for_three_periods(make_app, sandbox):
    from kiosk.web import health

    app = make_app()
    web = app.test_client()
    up = app.extensions["kiosk"].started
    for late, ready in ((180, True), (181, False)):  # a fresh start is not late; never running is
        health._cache.update(at=0.0, health=None)
        with time_machine.travel(up + late, tick=False):
            answer = web.get("/readyz")
        assert (answer.status_code == 200) is ready, answer.get_json()
    assert answer.get_json()["reason"] == "watcher: not run yet"
    jobs = app.extensions["kiosk"].jobs
    start = time.time()
    with time_machine.travel(start, tick=False):
        jobs._run("sweep", lambda: jobs._sweep(lag=0))  # a run of the periodic sweep, as a consumer does
    for late, ready in ((180, True), (181, False)):
        health._cache.update(at=0.0, health=None)
        with time_machine.travel(start + late, tick=False):
            answer = web.get("/readyz")
        assert (answer.status_code == 200) is ready, answer.get_json()
    assert answer.get_json()["reason"] == "watcher: not run for 181 s"
    health._cache.update(at=0.0, health=None)


def test_readyz_names_a_refused_login_without_upstream_words(make_app, sandbox):
    from kiosk.web import health

    health._cache.update(at=0.0, health=None)
    web = make_app(API_PASSWORD="wrong").test_client()
    down = web.get("/readyz")
    assert down.status_code == 503
    assert down.get_json() == {"status": "not ready", "reason": "upstream: login refused",
                               "upstream_ms": None, "version": "0.1.0"}
    health._cache.update(at=0.0, health=None)


# -- limits -----------------------------------------------------------------------------------


@time_machine.travel(1_800_000_030, tick=False)  # mid-window: the count is per 60 s window
def test_creating_payments_is_limited_per_session_and_address(make_app, sandbox):
    app = make_app(CREATE_LIMIT="2/60", COINS="TRX:TRX")
    customer = Customer(app.test_client(), sandbox)
    for _ in range(2):
        assert customer.enter("10").status_code == 303
        customer.next_customer()
    refused = customer.enter("10")
    assert refused.status_code == 429 and "çok fazla yeni ödeme" in refused.get_data(as_text=True)
    # A new session from the same address is refused too; another address is not.
    other = Customer(app.test_client(), sandbox)
    assert other.enter("10").status_code == 429
    elsewhere = app.test_client()
    elsewhere.environ_base["REMOTE_ADDR"] = "127.0.0.2"
    assert Customer(elsewhere, sandbox).enter("10").status_code == 303
    assert sandbox.calls("create") == 3


def test_behind_a_proxy_the_forwarded_address_counts(make_app, sandbox):
    app = make_app(CREATE_LIMIT="1/60", COINS="TRX:TRX", BEHIND_PROXY=True)
    for n in range(3):
        web = app.test_client()
        web.environ_base["HTTP_X_FORWARDED_FOR"] = f"10.0.0.{n}"
        assert Customer(web, sandbox).enter("10").status_code == 303
    assert sandbox.calls("create") == 3


# -- logs -------------------------------------------------------------------------------------


def test_json_log_lines_mask_secrets():
    record = logging.LogRecord("kiosk", logging.INFO, __file__, 1,
                               "login Bearer abc.def.ghi for +905551234567 password=\"hunter2\"", (), None)
    logs.request_id.set("-")
    logs.Masking().filter(record)
    line = json.loads(logs.JsonLines().format(record))
    assert line["msg"] == 'login Bearer *** for +90*******67 password="***"'
    assert line["level"] == "info" and line["request_id"] == "-"


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_a_forged_log_line_stays_inside_its_own(make_app, capsys, fmt):
    """Whatever a client puts in a path or a header that gets logged (a newline, a carriage
    return, an escape sequence) cannot start a line of its own: one request, one line."""
    app = make_app()
    root = logging.getLogger()
    kept = root.handlers[:], root.level
    try:
        logs.configure(fmt)
        staff = app.test_client()
        unlock_staff(staff, PIN)  # a route that lets the request through to its CSRF check
        capsys.readouterr()
        staff.post("/operator/tx/x%0A%7B%22level%22:%22info%22%7D%0Dforged%1B[2J/cancel",
                   data={"csrf_token": "stale"})
        lines = capsys.readouterr().err.splitlines()
    finally:
        root.handlers[:], root.level = kept
    start = re.compile(r'\{"ts": "|\d{4}-\d\d-\d\d ')  # how each record's line begins
    assert lines and all(start.match(line) for line in lines), lines
    [refused] = [line for line in lines if "form refused" in line]
    assert "forged" in refused
    assert "\x1b" not in refused[0] and "\r" not in refused[0]


def test_lifecycle_logged_once_per_event_without_secrets(make_app, sandbox, caplog):
    caplog.set_level(logging.INFO, logger="kiosk")
    app = make_app(ASK_MOBILE=True, COINS="TRX:TRX")
    customer = Customer(app.test_client(), sandbox)
    response = customer.enter("300", mobile="+905551234567")
    tx_id = response.headers["Location"].rsplit("/", 1)[1]
    sandbox.pay(tx_id, share="half")
    for _ in range(3):
        customer.status(tx_id)
    app.extensions["kiosk"].checkout.clock = lambda: time.time() + 601
    for _ in range(3):
        customer.status(tx_id)
    events = [r.event for r in caplog.records if hasattr(r, "event")]
    assert events == ["created", "partly paid", "ended with partial payment"]
    assert all(r.tx == tx_id and r.amount == "300.00" for r in caplog.records if hasattr(r, "event"))
    token = app.extensions["kiosk"].client.tokens.load().access_token
    text = "\n".join(logs.mask(r.getMessage()) for r in caplog.records)
    for secret in (token, DEFAULT_PASSWORD, "+905551234567", "5551234567"):
        assert secret not in text


# -- Redis and the fleet -------------------------------------------------------------------------


def test_redis_store_semantics(redis_url):
    import redis

    from kiosk.checkout import RedisStore

    store = RedisStore(redis.Redis.from_url(redis_url))
    assert store.add("g", "1", ttl=5) and not store.add("g", "2", ttl=5)
    assert store.get("g") == "1"
    store.set("attention:b", "2")
    store.set("attention:a", "1")
    assert store.items("attention:") == [("attention:a", "1"), ("attention:b", "2")]
    assert [store.incr("r", 60) for _ in range(3)] == [1, 2, 3]
    store.delete("g")
    assert store.get("g") is None


def test_fleet_moves_a_checkout_between_instances(make_app, sandbox, redis_url):
    """Two instances on two ports, one Redis, one sandbox: start on one, poll, cancel and
    resume on the other, with one upstream login for both."""
    one = LiveServer(make_app(REDIS_URL=redis_url))
    two = LiveServer(make_app(REDIS_URL=redis_url))
    try:
        browser = requests.Session()  # one tablet, whichever instance the balancer picks
        at_one, at_two = Customer.over_http(one.url, browser), Customer.over_http(two.url, browser)
        assert at_one.enter("300").headers["Location"] == "/coin"
        # The session lives in Redis: instance two knows the amount.
        html = at_two.get("/coin").text
        form = {"csrf_token": field(html, "csrf_token"), "nonce": field(html, "nonce"), "coin": "TRX-TRX"}
        tx_id = at_two.post("/coin", form).headers["Location"].rsplit("/", 1)[1]
        # The same form sent again through instance one creates nothing new: the amount screen,
        # which sends the tablet on to the payment it has open.
        again = at_one.post("/coin", form)
        assert again.status_code == 302 and again.headers["Location"] == "/"
        assert at_one.get("/").headers["Location"] == f"/pay/{tx_id}"
        sandbox.pay(tx_id, share="half")
        assert at_one.poll(tx_id) == ("partly_paid", None)
        token = at_two.token(f"/pay/{tx_id}")
        first, second = at_one.cancel(tx_id, token), at_two.cancel(tx_id, token)
        assert first.headers["Location"] == second.headers["Location"] == f"/result/{tx_id}"
        assert at_one.result(tx_id) == at_two.result(tx_id) == "partial"
        assert sandbox.calls("create") == 1 and sandbox.calls("cancel") == 1
        assert sandbox.calls("auth") == 1
    finally:
        one.stop()
        two.stop()


# -- gunicorn ---------------------------------------------------------------------------------


def test_timeouts_are_ordered():
    from kiosk import gunicorn_config
    from kiosk.cryptom import CryptomClient

    upstream_read = CryptomClient("http://x", "a", "b").timeout[1]
    htmx = json.loads(re.search(r"content='(\{.*?\})'", (ROOT / "templates" / "base.html").read_text())
                      .group(1))["timeout"] / 1000
    assert upstream_read < htmx < gunicorn_config.timeout
    assert gunicorn_config.worker_class == "gthread" and gunicorn_config.workers == 2


def test_checkout_through_gunicorn_with_a_reload_in_the_middle(sandbox, tmp_path):
    server = Gunicorn(sandbox.url, tmp_path, free_port())
    base = server.url
    try:
        browser = requests.Session()
        tx_id = Customer.over_http(base, browser).start("250")

        def poll() -> str:
            # A new connection each time, as after a tablet's keep-alive ends: any worker may take it.
            return browser.get(f"{base}/pay/{tx_id}/status", timeout=10,
                               headers={"HX-Request": "true", "Connection": "close"}).text

        deadline = time.monotonic() + 20
        while len(set(server.workers("/status"))) < 2 and time.monotonic() < deadline:
            # Four screens polling at once, so one busy worker leaves the next connection to the other.
            with ThreadPoolExecutor(4) as screens:
                assert all('data-outcome="waiting"' in text for text in screens.map(
                    lambda _: poll(), range(8)))
        before = set(server.workers("/status"))
        assert len(before) == 2, "both worker processes serve the polls"
        server.proc.send_signal(signal.SIGHUP)  # a reload in the middle of the payment
        deadline = time.monotonic() + 20
        while not set(server.workers("/status")) - before and time.monotonic() < deadline:
            assert 'data-outcome="waiting"' in poll()  # the screen keeps waiting through the reload
        assert set(server.workers("/status")) - before, "new workers answer after the reload"
        sandbox.pay(tx_id, share="full")
        deadline = time.monotonic() + 10  # polls share an answer for half an interval
        while "HX-Redirect" not in (status := browser.get(
                f"{base}/pay/{tx_id}/status", headers={"HX-Request": "true"}, timeout=10)).headers:
            assert time.monotonic() < deadline and 'data-outcome="waiting"' in status.text
        assert status.headers["HX-Redirect"] == f"/result/{tx_id}"
        assert 'data-testid="result-paid"' in browser.get(f"{base}/result/{tx_id}", timeout=10).text
        assert sandbox.calls("create") == 1 and sandbox.calls("auth") == 1  # one login, two workers
    finally:
        text = server.stop()
    lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    events = [line.get("event") for line in lines if line.get("event")]
    assert events == ["created", "paid"]
    assert all(line["request_id"] != "-" for line in lines if line.get("event"))
    assert "Traceback" not in text and DEFAULT_PASSWORD not in text


def test_redis_down_gives_a_calm_screen_not_a_stack_trace(make_app, sandbox):
    web = make_app(REDIS_URL=f"redis://127.0.0.1:{free_port()}/0").test_client()
    # A kiosk that had a session when Redis went away (without one, a payment URL is simply
    # not its own: a 404 that needs no Redis).
    web.set_cookie("kiosk_session", "a-session-id-from-before-redis-went-away")
    for url in ("/", "/pay/6338cb9cd4cb3327e706ddb1", "/operator"):
        response = web.get(url)
        html = response.get_data(as_text=True)
        assert response.status_code == 503 and 'data-testid="server-error"' in html, url
        assert "Traceback" not in html and "redis" not in html.lower()
    # The probes and the stylesheet need no session, so they still answer.
    from kiosk.web import health

    health._cache.update(at=0.0, health=None)
    assert web.get("/healthz").status_code == 200
    ready = web.get("/readyz")
    assert ready.status_code == 503 and ready.get_json()["reason"] == "redis: not reachable"
    health._cache.update(at=0.0, health=None)
    assert web.get("/static/kiosk.css").status_code == 200
