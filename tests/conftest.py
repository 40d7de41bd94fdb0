from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest

from kiosk.cryptom import CryptomClient
from kiosk.sandbox import DEFAULT_EMAIL, DEFAULT_PASSWORD, create_sandbox_app

from .support import Customer, LiveServer, Sandbox


@pytest.fixture(scope="session")
def sandbox_server():
    server = Sandbox(create_sandbox_app())
    yield server
    server.stop()


@pytest.fixture
def sandbox(sandbox_server: Sandbox) -> Sandbox:
    """A running sandbox, emptied and without faults for each test."""
    sandbox_server.reset()
    sandbox_server.state.tokens.clear()
    return sandbox_server


@pytest.fixture
def own_sandbox() -> Iterator[Sandbox]:
    """A sandbox of this test's own, on a port no earlier test knew: for tests that count what
    reached upstream, which a process or thread another test left behind must not touch."""
    server = Sandbox(create_sandbox_app())
    yield server
    server.stop()


@pytest.fixture
def client(sandbox: Sandbox) -> CryptomClient:
    return CryptomClient(sandbox.url, DEFAULT_EMAIL, DEFAULT_PASSWORD)


SECRET = "test-secret-key-0123456789abcdef"
PIN = "246810"  # set explicitly, as a shop would; it happens to be the demo's PIN too


def kiosk_config(sandbox: Sandbox, state_dir, **extra) -> dict:
    return {
        "API_URL": sandbox.url,
        "API_EMAIL": DEFAULT_EMAIL,
        "API_PASSWORD": DEFAULT_PASSWORD,
        "SECRET_KEY": SECRET,
        "OPERATOR_PIN": PIN,
        "STATE_DIR": str(state_dir),
        **extra,
    }


@pytest.fixture
def make_app(sandbox: Sandbox, tmp_path):
    """Build a kiosk app against the live sandbox; keyword arguments override settings."""
    from kiosk import create_app

    def build(share: bool = False, **extra):
        app = create_app(kiosk_config(sandbox, tmp_path / "state", **extra))
        if not share:
            # Tests pay and look again within the same second; a customer's screen does not.
            app.extensions["kiosk"].checkout.share_seconds = 0
        return app

    return build


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def web(app):
    return app.test_client()


@pytest.fixture
def customer(web, sandbox) -> Customer:
    """A customer at the kiosk, through Flask's test client."""
    return Customer(web, sandbox)


@pytest.fixture
def crashes(caplog):
    """Log records of unhandled exceptions; the scenario asserts there are none."""
    caplog.set_level(logging.WARNING)
    yield lambda: [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


@pytest.fixture
def kiosk(make_app):
    servers: list[LiveServer] = []

    def start(**settings) -> LiveServer:
        server = LiveServer(make_app(COINS="TRX:TRX", **settings))
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def till(server, sandbox):
    """A till over HTTP of the module's `kiosk serve` (its `server` fixture, with `.state` and
    `.key`), with a fresh allowance of pairing codes."""
    from .api_support import till_of

    return till_of(server)


@pytest.fixture
def display(server, till):
    """A display's browser on the module's `kiosk serve`, paired by `till`."""
    from .api_support import display_paired_by

    return display_paired_by(server, till)


@pytest.fixture
def watcher():
    """The job consumer of an app, in threads of this process, stopped after the test."""
    from kiosk.jobs import Runner

    runners: list[Runner] = []

    def start(app) -> Runner:
        runner = Runner(app.extensions["kiosk"].jobs).start()
        runners.append(runner)
        jobs = app.extensions["kiosk"].jobs
        deadline = time.monotonic() + 10
        while jobs.store.get("jobs:last:sweep") is None:  # its first run, at start
            assert time.monotonic() < deadline, "the watcher did not start"
            time.sleep(0.05)
        # Started at minute 7, it also runs the hour's reconciliation at once: done before the test.
        while jobs.huey.pending_count() or jobs.store.get("jobs:lock:reconcile") is not None:
            assert time.monotonic() < deadline, "the watcher's first jobs did not finish"
            time.sleep(0.05)
        return runner

    yield start
    for runner in runners:
        runner.stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_redis(workdir, *args: str) -> subprocess.Popen:
    """A real redis-server on loopback, without persistence (skipped if not installed, a
    failure under CI)."""
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    if not os.path.exists(binary):
        message = "redis-server is not installed: run `make test` as root, or apt-get install redis-server"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return subprocess.Popen([binary, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", str(workdir), *args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_for_redis(client) -> None:
    import redis

    for _ in range(200):
        try:
            client.ping()
            return
        except redis.ConnectionError:
            time.sleep(0.05)
    raise AssertionError("redis-server did not start")


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    """A real Redis on a free loopback port, without persistence, stopped after the run."""
    import redis

    port = free_port()
    proc = start_redis(tmp_path_factory.mktemp("redis"), "--port", str(port))
    wait_for_redis(redis.Redis(port=port))
    yield f"redis://127.0.0.1:{port}/0"
    proc.terminate()
    proc.wait(10)


@pytest.fixture
def redis_url(redis_server):
    """The session's Redis, emptied for each test."""
    import redis

    redis.Redis.from_url(redis_server).flushall()
    return redis_server


@pytest.fixture
def small_redis(tmp_path):
    """A Redis of its own with an 8 MB maxmemory and noeviction, as docs/deployment.md asks:
    (its URL, a client), stopped after the test. `support.fill_redis` fills it."""
    import redis

    port = free_port()
    proc = start_redis(tmp_path, "--port", str(port), "--maxmemory", "8mb",
                       "--maxmemory-policy", "noeviction")
    client = redis.Redis(port=port)
    wait_for_redis(client)
    yield f"redis://127.0.0.1:{port}/0", client
    proc.terminate()
    proc.wait(10)


@pytest.fixture(scope="session")
def playwright_driver():
    """Playwright, once per run: its sync API allows one instance per thread, and both the
    browser tests and the deployed suite launch Chromium from it."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        yield driver


@pytest.fixture
def desk(own_sandbox, tmp_path, caplog):
    """A checkout service in this process against the sandbox (see tests/desk.py); keyword
    arguments are the Checkout's settings (payment_timeout 600 s unless given)."""
    from .desk import Desk

    caplog.set_level(logging.INFO, logger="kiosk")
    made = 0

    def build(**settings) -> Desk:
        nonlocal made
        made += 1
        return Desk(own_sandbox, tmp_path / f"desk{made}.sqlite3", caplog, **settings)

    return build


@pytest.fixture(scope="module")
def receiver():
    """A till's webhook endpoint (tests/api_support.py), for the tests of one module."""
    from .api_support import Receiver

    hook = Receiver()
    yield hook
    if hook.server:
        hook.server.stop()


# -- the sales ledger's PostgreSQL -------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_server():
    """A real PostgreSQL on a free loopback port for the run (tests/pg.py); skipped if not
    installed, a failure under CI. KIOSK_TEST_POSTGRES_PORT names one already running instead."""
    from .pg import Postgres, Running

    shared = os.environ.get("KIOSK_TEST_POSTGRES_PORT")
    server = Running(int(shared)) if shared else Postgres(free_port())
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger_url(request, tmp_path):
    """The ledger's database, once on SQLite (the default) and once on PostgreSQL (a fleet's),
    new and empty for each test."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
        return
    server = request.getfixturevalue("postgres_server")
    url = server.database()
    yield url
    server.forget(url)
