"""Behind a proxy, X-Forwarded-* count only when the trusted proxy sent them: a client that reaches
an instance directly cannot rotate X-Forwarded-For past the creation limit or the PIN limit."""

from __future__ import annotations

import pytest
import requests

from kiosk.config import ConfigError

from ..conftest import PIN
from ..support import Customer, LiveServer, field
from .test_operator import WRONG, unlock

STRANGER = "203.0.113.7"  # a client on the shop's network that talks to the instance directly


def client_from(app, peer: str, forwarded_for: str | None = None, **headers: str):
    web = app.test_client()
    web.environ_base["REMOTE_ADDR"] = peer
    if forwarded_for is not None:
        web.environ_base["HTTP_X_FORWARDED_FOR"] = forwarded_for
    for name, value in headers.items():
        web.environ_base[f"HTTP_{name.upper()}"] = value
    return web


def test_a_forged_forwarded_for_from_an_untrusted_peer_does_not_dodge_the_creation_limit(make_app, sandbox):
    app = make_app(CREATE_LIMIT="1/60", COINS="TRX:TRX", BEHIND_PROXY=True)
    assert Customer(client_from(app, STRANGER, "10.0.0.1"), sandbox).enter("10").status_code == 303
    for n in range(2, 5):
        forged = Customer(client_from(app, STRANGER, f"10.0.0.{n}"), sandbox)
        assert forged.enter("10").status_code == 429
    assert sandbox.calls("create") == 1


def test_a_trusted_proxy_gives_each_client_its_own_limit(make_app, sandbox):
    app = make_app(CREATE_LIMIT="1/60", COINS="TRX:TRX", BEHIND_PROXY=True)
    for n in range(3):
        # nginx appends the address it saw to whatever the client sent: the last one counts.
        web = client_from(app, "127.0.0.1", f"192.0.2.99, 10.0.0.{n}")
        assert Customer(web, sandbox).enter("10").status_code == 303
    again = client_from(app, "127.0.0.1", "192.0.2.50, 10.0.0.0")  # a forged first entry changes nothing
    assert Customer(again, sandbox).enter("10").status_code == 429
    assert sandbox.calls("create") == 3


def test_a_forged_forwarded_for_from_an_untrusted_peer_does_not_dodge_the_pin_lockout(make_app):
    app = make_app(BEHIND_PROXY=True)
    for n in range(5):
        unlock(client_from(app, STRANGER, f"10.0.1.{n}"), WRONG)
    response = unlock(client_from(app, STRANGER, "10.0.1.99"), PIN)
    assert response.status_code == 403 and "5 dakika sonra" in response.get_data(as_text=True)
    # The same from behind the trusted proxy is a different client, so it is not locked out.
    trusted = unlock(client_from(app, "127.0.0.1", "10.0.1.99"), PIN)
    assert trusted.headers["Location"] == "/operator/today"


def test_only_the_listed_proxies_are_trusted(make_app, sandbox):
    app = make_app(CREATE_LIMIT="1/60", COINS="TRX:TRX", BEHIND_PROXY=True,
                   TRUSTED_PROXIES="10.20.0.0/16, 192.0.2.8")
    for n, peer in enumerate(("10.20.3.4", "192.0.2.8")):
        assert Customer(client_from(app, peer, f"198.51.100.{n}"), sandbox).enter("10").status_code == 303
    assert Customer(client_from(app, "127.0.0.1", "198.51.100.7"), sandbox).enter("10").status_code == 303
    assert Customer(client_from(app, "127.0.0.1", "198.51.100.8"), sandbox).enter("10").status_code == 429
    assert sandbox.calls("create") == 3


def test_over_real_http_a_direct_client_is_known_by_its_own_address(make_app, sandbox):
    """Through a real socket from 127.0.0.1, which this kiosk is told not to trust."""
    server = LiveServer(make_app(CREATE_LIMIT="1/60", COINS="TRX:TRX", BEHIND_PROXY=True,
                                 TRUSTED_PROXIES="10.0.0.1"))
    try:
        codes = []
        for n in range(3):
            browser = requests.Session()
            browser.headers["X-Forwarded-For"] = f"198.51.100.{n}"
            html = browser.get(server.url + "/", timeout=10).text
            response = browser.post(server.url + "/", data={"csrf_token": field(html, "csrf_token"),
                                                            "nonce": field(html, "nonce"), "amount": "10"},
                                    allow_redirects=False, timeout=10)
            codes.append(response.status_code)
        assert codes == [303, 429, 429]
    finally:
        server.stop()


def seen(app, peer: str, **headers: str) -> dict:
    """What the kiosk's views see of a request: address, scheme and host."""
    from kiosk.web.proxy import TrustedProxies

    captured: dict = {}

    def inner(environ, start_response):
        captured.update(addr=environ["REMOTE_ADDR"], scheme=environ["wsgi.url_scheme"],
                        host=environ.get("HTTP_HOST"),
                        forwarded=sorted(k for k in environ if k.startswith("HTTP_X_FORWARDED")))
        start_response("204 No Content", [])
        return [b""]

    middleware = TrustedProxies(inner, app.extensions["kiosk"].settings.trusted_proxies)
    environ = {"REMOTE_ADDR": peer, "wsgi.url_scheme": "http", "HTTP_HOST": "kiosk.internal",
               **{f"HTTP_{k.upper()}": v for k, v in headers.items()}}
    middleware(environ, lambda status, headers: None)
    return captured


def test_forwarded_scheme_and_host_count_only_from_a_trusted_proxy(make_app):
    app = make_app(BEHIND_PROXY=True)
    headers = {"X_FORWARDED_FOR": "198.51.100.4", "X_FORWARDED_PROTO": "https",
               "X_FORWARDED_HOST": "kiosk.shop.example"}
    assert seen(app, "127.0.0.1", **headers) == {
        "addr": "198.51.100.4", "scheme": "https", "host": "kiosk.shop.example", "forwarded": []}
    assert seen(app, "::1", **headers)["addr"] == "198.51.100.4"
    assert seen(app, STRANGER, **headers) == {
        "addr": STRANGER, "scheme": "http", "host": "kiosk.internal", "forwarded": []}
    # Garbage in the header is no address: the proxy's own counts.
    assert seen(app, "127.0.0.1", X_FORWARDED_FOR="not-an-address")["addr"] == "127.0.0.1"
    # A chain of trusted proxies is walked back to the first address that is not one of them.
    assert seen(app, "127.0.0.1", X_FORWARDED_FOR="198.51.100.4, 127.0.0.5")["addr"] == "198.51.100.4"


def test_without_behind_proxy_the_headers_are_ignored_even_from_loopback(make_app, sandbox):
    app = make_app(CREATE_LIMIT="1/60", COINS="TRX:TRX")
    assert Customer(client_from(app, "127.0.0.1", "10.0.0.1"), sandbox).enter("10").status_code == 303
    assert Customer(client_from(app, "127.0.0.1", "10.0.0.2"), sandbox).enter("10").status_code == 429


@pytest.mark.parametrize("value", ["10.0.0.0/33", "example.com", "10.0.0.1;10.0.0.2"])
def test_bad_trusted_proxies_stop_the_start(make_app, value):
    with pytest.raises(ConfigError) as err:
        make_app(BEHIND_PROXY=True, TRUSTED_PROXIES=value)
    assert "KIOSK_TRUSTED_PROXIES must list addresses or networks" in str(err.value.code)
