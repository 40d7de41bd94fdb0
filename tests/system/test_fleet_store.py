"""The fleet's shared store as deployed: sessions in Redis are never unpickled, and Redis behind a
password and behind TLS (`rediss://`) works end to end, with real redis-server processes."""

from __future__ import annotations

import os
import pickle
import shutil
import subprocess
from pathlib import Path

import msgspec
import pytest
import redis

from kiosk.sandbox import DEFAULT_PASSWORD

from ..conftest import free_port, start_redis, wait_for_redis
from ..support import Customer

PREFIX = "kiosk:session:"


class Trap:
    """Unpickling this creates a file: proof that code ran."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def session_id(web) -> str:
    cookie = web.get_cookie("kiosk_session")
    assert cookie is not None
    return cookie.value


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_a_pickle_in_a_session_key_is_refused(make_app, sandbox, redis_url, tmp_path, protocol):
    app = make_app(REDIS_URL=redis_url)
    web = app.test_client()
    customer = Customer(web, sandbox)
    customer.enter("300")  # a session with something in it
    sid = session_id(web)
    store = redis.Redis.from_url(redis_url)
    assert store.get(PREFIX + sid) is not None
    trap = tmp_path / "code-ran"
    store.set(PREFIX + sid, pickle.dumps({"amount": "300", "x": Trap(trap)}, protocol=protocol))
    response = web.get("/coin")
    assert not trap.exists()
    # A fresh session: no amount, so back to the amount screen, under a new session id.
    assert response.headers["Location"] == "/"
    assert 'data-testid="amount-display"' in web.get("/").get_data(as_text=True)
    assert session_id(web) != sid
    assert store.get(PREFIX + sid) is None  # the refused entry is gone
    assert customer.enter("300").status_code == 302  # and the kiosk works on


@pytest.mark.parametrize("payload", [
    msgspec.msgpack.encode([1, 2, 3]), msgspec.json.encode({"amount": "300"}), b"\x00garbage",
])
def test_anything_but_the_kiosk_s_own_sessions_is_refused(make_app, sandbox, redis_url, payload):
    app = make_app(REDIS_URL=redis_url)
    web = app.test_client()
    Customer(web, sandbox).enter("300")
    sid = session_id(web)
    store = redis.Redis.from_url(redis_url)
    store.set(PREFIX + sid, payload)
    assert web.get("/coin").headers["Location"] == "/"  # no amount: a fresh session
    assert store.get(PREFIX + sid) is None
    web.get("/")
    assert session_id(web) != sid


def test_sessions_are_stored_as_msgpack(make_app, sandbox, redis_url):
    web = make_app(REDIS_URL=redis_url).test_client()
    Customer(web, sandbox).enter("300")
    raw = redis.Redis.from_url(redis_url).get(PREFIX + session_id(web))
    assert msgspec.msgpack.decode(raw)["amount"] == "300.00"


# -- Redis behind a password, and behind TLS ---------------------------------------------------


PASSWORD = "s3cret/with:odd@chars"


@pytest.fixture(scope="module")
def redis_with_password(tmp_path_factory):
    port = free_port()
    proc = start_redis(tmp_path_factory.mktemp("redis-auth"), "--port", str(port),
                       "--requirepass", PASSWORD)
    wait_for_redis(redis.Redis(host="127.0.0.1", port=port, password=PASSWORD))
    yield port
    proc.terminate()
    proc.wait(10)


def quoted(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="")


def test_a_password_protected_redis(make_app, sandbox, redis_with_password, caplog, watcher):
    port = redis_with_password
    url = f"redis://:{quoted(PASSWORD)}@127.0.0.1:{port}/0"
    app = make_app(REDIS_URL=url)
    watcher(app)  # the job queue works on that Redis too
    web = app.test_client()
    customer = Customer(web, sandbox)
    tx_id = customer.start()
    sandbox.pay(tx_id, share="full")
    assert customer.status(tx_id).headers["HX-Redirect"] == f"/result/{tx_id}"
    server = redis.Redis(host="127.0.0.1", port=port, password=PASSWORD)
    assert server.get(f"kiosk:tx:{tx_id}") is not None
    assert server.get(PREFIX + session_id(web)) is not None
    from kiosk.web import health

    health._cache.update(at=0.0, health=None)
    assert web.get("/readyz").get_json()["status"] == "ready"


def test_a_wrong_redis_password_is_reported_without_the_password(make_app, sandbox, redis_with_password,
                                                                caplog):
    wrong = "not-the-password-123"
    app = make_app(REDIS_URL=f"redis://:{wrong}@127.0.0.1:{redis_with_password}/0")
    web = app.test_client()
    from kiosk.web import health

    health._cache.update(at=0.0, health=None)
    ready = web.get("/readyz")
    health._cache.update(at=0.0, health=None)
    assert ready.status_code == 503 and ready.get_json()["reason"] == "redis: login refused"
    web.set_cookie("kiosk_session", "a-session-from-before")
    response = web.get("/")
    assert response.status_code == 503 and 'data-testid="server-error"' in response.get_data(as_text=True)
    for text in (ready.get_data(as_text=True), response.get_data(as_text=True), caplog.text):
        assert wrong not in text and DEFAULT_PASSWORD not in text


@pytest.fixture(scope="module")
def tls_redis(tmp_path_factory):
    """redis-server with TLS only (no plain port), a certificate for 127.0.0.1 signed by a CA
    made here with openssl, and a password."""
    openssl = shutil.which("openssl")
    if openssl is None:
        message = "openssl is not installed: apt-get install openssl"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    work = tmp_path_factory.mktemp("redis-tls")

    def run(*args: str) -> None:
        subprocess.run([openssl, *args], cwd=work, check=True, capture_output=True)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=kiosk test CA",
        "-keyout", "ca.key", "-out", "ca.pem")
    run("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", "redis.key",
        "-out", "redis.csr")
    (work / "san.cnf").write_text("subjectAltName=IP:127.0.0.1\n")
    run("x509", "-req", "-in", "redis.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
        "-days", "2", "-extfile", "san.cnf", "-out", "redis.pem")
    port = free_port()
    proc = start_redis(work, "--port", "0", "--tls-port", str(port), "--tls-cert-file", "redis.pem",
                       "--tls-key-file", "redis.key", "--tls-ca-cert-file", "ca.pem",
                       "--tls-auth-clients", "no", "--requirepass", PASSWORD)
    wait_for_redis(redis.Redis(host="127.0.0.1", port=port, password=PASSWORD, ssl=True,
                         ssl_ca_certs=str(work / "ca.pem")))
    yield port, work / "ca.pem"
    proc.terminate()
    proc.wait(10)


def test_rediss_with_a_password(make_app, sandbox, tls_redis):
    port, ca = tls_redis
    url = f"rediss://:{quoted(PASSWORD)}@127.0.0.1:{port}/0?ssl_ca_certs={ca}"
    app = make_app(REDIS_URL=url)
    web = app.test_client()
    customer = Customer(web, sandbox)
    tx_id = customer.start()
    customer.cancel(tx_id)
    assert 'data-testid="result-cancelled"' in web.get(f"/result/{tx_id}").get_data(as_text=True)
    server = redis.Redis(host="127.0.0.1", port=port, password=PASSWORD, ssl=True, ssl_ca_certs=str(ca))
    assert server.get(f"kiosk:tx:{tx_id}") is not None
    assert server.get(PREFIX + session_id(web)) is not None


def test_rediss_refuses_a_server_it_cannot_verify(make_app, sandbox, tls_redis):
    """Without the CA that signed the server's certificate, the kiosk does not talk to it."""
    port, _ = tls_redis
    app = make_app(REDIS_URL=f"rediss://:{quoted(PASSWORD)}@127.0.0.1:{port}/0")
    from kiosk.web import health

    health._cache.update(at=0.0, health=None)
    ready = app.test_client().get("/readyz")
    health._cache.update(at=0.0, health=None)
    assert ready.status_code == 503 and ready.get_json()["reason"] == "redis: not reachable"


def test_a_plain_client_cannot_reach_the_tls_port(tls_redis):
    port, _ = tls_redis
    with pytest.raises(redis.ConnectionError):
        redis.Redis(host="127.0.0.1", port=port, password=PASSWORD, socket_timeout=2).ping()
