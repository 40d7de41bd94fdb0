"""The ledger's state where people and probes look: the operator's Settings page (which database,
its schema's revision, whether it answers, its rows, the entries waiting) and /readyz (503 with
"ledger: not reachable"), on SQLite and on a real PostgreSQL, never with the database's password."""

from __future__ import annotations

import logging
import re

import pytest

from kiosk.ledger import migrate

from ..conftest import PIN, free_port
from ..support import Customer, unlock_staff

PASSWORD = "pw-9f2/s3cret"


def facts(html: str) -> dict[str, str]:
    """The Settings page's ledger facts, as read on the screen (tags and spacing dropped)."""
    found = {}
    for name in ("database", "state", "revision", "rows", "waiting"):
        match = re.search(rf'data-testid="ledger-{name}">(.*?)</dd>', html, re.S)
        assert match, name
        found[name] = " ".join(re.sub(r"<[^>]+>", " ", match.group(1)).split())
    return found


@pytest.fixture
def fresh_readyz():
    from kiosk.web import health

    health._cache.update(at=0.0, health=None)
    yield
    health._cache.update(at=0.0, health=None)


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_the_settings_page_shows_the_ledger_without_its_password(make_app, sandbox, tmp_path, kind,
                                                                 request, fresh_readyz):
    settings = {}
    if kind == "postgresql":
        server = request.getfixturevalue("postgres_server")
        url = server.database()
        request.addfinalizer(lambda: server.forget(url))
        settings["DATABASE_URL"] = url.replace("postgresql+psycopg://postgres@",
                                               f"postgresql://postgres:{PASSWORD.replace('/', '%2F')}@")
    app = make_app(**settings)
    web = app.test_client()
    unlock_staff(web, PIN)
    before = facts(web.get("/operator/settings").get_data(as_text=True))
    if kind == "sqlite":
        assert before["database"] == f"SQLite {tmp_path / 'state' / 'ledger.sqlite3'}"
    else:
        port, name = url.rsplit(":", 1)[1].split("/")
        assert before["database"] == f"PostgreSQL 127.0.0.1:{port}/{name}"
    # In the shop's language (Turkish by default): answering; not created yet, the first sale creates it.
    assert before == {**before, "state": "yanıt veriyor", "rows": "0", "waiting": "0",
                      "revision": "henüz oluşturulmadı ilk satış oluşturur"}
    Customer(web, sandbox).start("300")  # the first write upgrades the ledger
    html = web.get("/operator/settings").get_data(as_text=True)
    assert facts(html) == {**before, "rows": "1", "revision": f"{migrate.head()} güncel"}
    ready = web.get("/readyz")
    assert ready.status_code == 200, ready.get_json()
    for text in (html, ready.get_data(as_text=True)):
        assert "pw-9f2" not in text and "s3cret" not in text


def test_a_database_that_does_not_answer_is_shown_and_makes_readyz_fail(make_app, sandbox, caplog,
                                                                         fresh_readyz):
    caplog.set_level(logging.INFO)
    port = free_port()  # nothing listens there
    app = make_app(DATABASE_URL=f"postgresql://kiosk:{PASSWORD.replace('/', '%2F')}@127.0.0.1:{port}/sales")
    web = app.test_client()
    customer = Customer(web, sandbox)
    tx = customer.start("300")  # payments go on: the sale's row is made at a look once it answers
    assert customer.poll(tx) == ("waiting+reconnecting", None)
    ready = web.get("/readyz")
    assert ready.status_code == 503
    assert ready.get_json()["reason"] == "ledger: not reachable"
    unlock_staff(web, PIN)
    html = web.get("/operator/settings").get_data(as_text=True)
    assert facts(html) == {"database": f"PostgreSQL 127.0.0.1:{port}/sales",
                           "state": "ulaşılamıyor OperationalError", "revision": "–", "rows": "–",
                           "waiting": "0"}  # a checkout's row waits for no entry: orders' entries do
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "not ready: ledger: not reachable" in logged
    for text in (html, ready.get_data(as_text=True), logged):
        assert "pw-9f2" not in text and "s3cret" not in text
