"""The ledger where the kiosk starts: `kiosk db upgrade` run for real as a process (SQLite in
the state folder, or KIOSK_DATABASE_URL's PostgreSQL), the first upgrade importing the store's
checkouts, a database that does not answer, the setting's checks, and an app's start upgrading
the ledger its screens then write to."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from decimal import Decimal

import pytest

from kiosk.checkout import LocalStore
from kiosk.config import ConfigError
from kiosk.ledger import Ledger, make_engine, sqlite_url
from kiosk.ledger.migrate import head
from kiosk.sandbox import DEFAULT_EMAIL, DEFAULT_PASSWORD

from .. import old_store
from ..conftest import SECRET, free_port

HEAD = head()  # the newest migration


def kiosk(state_dir, sandbox_url: str, *args: str, **settings: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIOSK_")}
    env.update({"KIOSK_API_URL": sandbox_url, "KIOSK_API_EMAIL": DEFAULT_EMAIL,
                "KIOSK_API_PASSWORD": DEFAULT_PASSWORD, "KIOSK_SECRET_KEY": SECRET,
                "KIOSK_STATE_DIR": str(state_dir), **{f"KIOSK_{k}": v for k, v in settings.items()}})
    return subprocess.run([sys.executable, "-m", "kiosk.cli", *args], env=env, capture_output=True,
                          text=True, timeout=120)


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, tmp_path):
    """The settings of the ledger's database: none (SQLite in the state folder) or a PostgreSQL."""
    if request.param == "sqlite":
        yield {}
        return
    server = request.getfixturevalue("postgres_server")
    url = server.database()
    yield {"DATABASE_URL": url.replace("postgresql+psycopg://", "postgresql://")}
    server.forget(url)


def test_kiosk_db_upgrade_imports_the_store_once_then_finds_it_up_to_date(sandbox, client, tmp_path,
                                                                          database):
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    # An install from before the ledger: a checkout open in its key-value store.
    store = LocalStore(state / "kiosk.sqlite3")
    tx = old_store.checkout(store, sandbox, "0.30", "kiosk:k1", at=time.time())

    first = kiosk(state, sandbox.url, "db", "upgrade", **database)
    assert first.returncode == 0, first.stderr
    assert f"upgraded from nothing to revision {HEAD}; 1 checkout imported from the store" in first.stdout
    second = kiosk(state, sandbox.url, "db", "upgrade", **database)
    assert second.returncode == 0, second.stderr
    assert f"is up to date: revision {HEAD}" in second.stdout

    url = database.get("DATABASE_URL", "").replace("postgresql://", "postgresql+psycopg://")
    ledger = Ledger(make_engine(url or sqlite_url(state)))
    [row] = ledger.all()
    assert (row.tx_id, row.status, row.amount, row.started_by_kind, row.started_by) == (
        tx, "waiting", Decimal("0.30"), "kiosk", "k1")
    if not database:
        assert (state / "ledger.sqlite3").exists()


def test_kiosk_db_upgrade_says_in_one_line_when_the_database_does_not_answer(sandbox, tmp_path):
    port = free_port()  # nothing listens there
    done = kiosk(tmp_path / "state", sandbox.url, "db", "upgrade",
                 DATABASE_URL=f"postgresql://kiosk:s3cret-pw@127.0.0.1:{port}/sales")
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.strip().splitlines()[-1].startswith(
        f"kiosk: the ledger (PostgreSQL 127.0.0.1:{port}/sales) could not be upgraded: OperationalError")
    assert "Traceback" not in done.stderr and "s3cret-pw" not in done.stderr


@pytest.mark.parametrize("url", ["mysql://kiosk:s3cret-pw@db/sales", "sqlite:///tmp/x.db", "postgresql:/x",
                                 "redis://db:6379/0"])
def test_a_database_url_other_than_postgresql_stops_the_start(make_app, url):
    with pytest.raises(ConfigError, match="KIOSK_DATABASE_URL must be a postgresql:// URL") as err:
        make_app(DATABASE_URL=url)
    assert "s3cret-pw" not in str(err.value)


def test_the_settings_never_show_the_database_password(make_app, postgres_server):
    url = postgres_server.database().replace("postgresql+psycopg://postgres@", "postgres://postgres:pw-9f2@")
    app = make_app(DATABASE_URL=url)
    settings = app.extensions["kiosk"].settings
    assert settings.database_url.startswith("postgresql+psycopg://postgres:pw-9f2@")
    assert "pw-9f2" not in repr(settings)


def test_an_app_writes_its_ledger_from_the_screens_upgrading_it_first(make_app, customer, tmp_path):
    """`kiosk serve`, `kiosk worker` and `kiosk demo` upgrade the ledger as they start; any
    other process that builds the app (a WSGI server of the shop's own) upgrades it on its
    first write."""
    services = customer.web.application.extensions["kiosk"]
    assert services.ledger_upgrade is None and not (tmp_path / "state" / "ledger.sqlite3").exists()
    tx = customer.start("300")
    customer.sandbox.pay(tx, share="full")
    assert customer.poll(tx)[0] == "paid"
    row = services.ledger.get(tx_id=tx)
    # Its first write upgraded the ledger, which imported the checkout from the store (version 1);
    # the created event added upstream's quote (2); then it was paid (3).
    assert (row.status, row.amount, row.started_by_kind, row.version) == ("paid", Decimal("300"), "kiosk", 3)
    assert row.coin_amount == Decimal(customer.sandbox.state.transactions[tx]["coinAmount"])
    assert (tmp_path / "state" / "ledger.sqlite3").exists()
    # As another start finds it: up to date.
    again = make_app().extensions["kiosk"].upgrade_ledger()
    assert (again.before, again.after, again.imported) == (HEAD, HEAD, 0)


def revision(state_dir) -> str | None:
    from kiosk.ledger import migrate

    if not (state_dir / "ledger.sqlite3").exists():
        return None
    with make_engine(sqlite_url(state_dir)).connect() as conn:
        return migrate.current(conn)


def test_kiosk_serve_upgrades_the_ledger_before_its_workers_start(sandbox, tmp_path):
    from ..support import Gunicorn

    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    server = Gunicorn(sandbox.url, state, free_port(), WATCHER="off")
    try:
        assert revision(state) == HEAD  # as soon as it answers, before any checkout
    finally:
        log = server.stop()
    assert "Traceback" not in log


def test_kiosk_worker_upgrades_the_ledger_as_it_starts(sandbox, tmp_path):
    import signal
    import time

    state = tmp_path / "state"
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIOSK_")}
    env.update({"KIOSK_API_URL": sandbox.url, "KIOSK_API_EMAIL": DEFAULT_EMAIL,
                "KIOSK_API_PASSWORD": DEFAULT_PASSWORD, "KIOSK_SECRET_KEY": SECRET,
                "KIOSK_STATE_DIR": str(state), "KIOSK_LOG_FORMAT": "text"})
    proc = subprocess.Popen([sys.executable, "-m", "kiosk.cli", "worker", "--threads", "1"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while revision(state) != HEAD:
            assert proc.poll() is None, proc.communicate()[0]
            assert time.monotonic() < deadline, "the worker did not upgrade the ledger"
            time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    assert f"upgraded from nothing to {HEAD}" in out and "Traceback" not in out


def test_a_till_api_checkout_names_its_key_in_the_ledger(sandbox, tmp_path):
    """Over real HTTP against `kiosk serve`: the till sends a checkout with its key; the ledger's
    row names the key (never the key itself), with the till's reference, lines and note."""
    from ..api_support import DisplayBrowser, Till, make_key
    from ..support import Gunicorn

    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    server = Gunicorn(sandbox.url, state, free_port(), WATCHER="off")
    try:
        key = make_key(state, "till-7")
        till = Till(server.url, key)
        display = DisplayBrowser(server.url)
        till.pair(display, "Counter 7")
        sent = till.create(display.id, "50.00", reference="R-77", note="Table 7",
                           lines=[{"name": "Çay", "quantity": 2, "unit_amount": "25.00"}])
        assert sent.status_code == 201, sent.text
        again = till.create(display.id, "50.00", reference="R-77")  # refused: the display is busy
        assert again.status_code == 409
    finally:
        log = server.stop()
    assert "Traceback" not in log
    [row] = Ledger(make_engine(sqlite_url(state))).all()
    assert (row.order_id, row.status, row.started_by_kind, row.started_by) == (sent.json()["id"], "pending",
                                                                               "till", "till-7")
    assert (row.reference, row.note, row.display_id, row.amount) == ("R-77", "Table 7", display.id,
                                                                     Decimal("50.00"))
    assert row.lines == [{"name": "Çay", "quantity": 2, "unit_amount": "25.00"}]
    assert key not in repr(row.__dict__)
