"""The operator's API keys page: each key's name, last four characters, when made and when last
used; revoke one (it is refused by the API at once). A key is never made nor shown in a browser."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime

import pytest
import requests
import time_machine

from kiosk.tills.keys import ApiKeys

from ..api_support import Till
from ..conftest import PIN
from ..support import LiveServer, field, unlock_staff

NINE = datetime(2026, 11, 25, 9, 0, tzinfo=UTC).timestamp()  # 12:00 in Istanbul


def keys_of(app) -> ApiKeys:
    return ApiKeys(app.extensions["kiosk"].store)


def unlocked(web):
    assert unlock_staff(web, PIN).headers["Location"] == "/operator/today"
    return web


def rows(html: str) -> dict[str, str]:
    """Each key's row as text, by name."""
    found = re.findall(r'<tr data-testid="key-row-([^"]+)">(.*?)</tr>', html, re.S)
    return {name: re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row)).strip() for name, row in found}


def revoke(web, name: str, page: str = "/operator/keys"):
    token = field(web.get(page).get_data(as_text=True), "csrf_token")
    return web.post(f"/operator/keys/{name}/revoke", data={"csrf_token": token})


def test_the_keys_page_and_revoke_need_the_pin(app, web):
    key = keys_of(app).create("till-1")
    assert web.get("/operator/keys").headers["Location"] == "/operator"
    # A form token of the customer's own screen, but no PIN: nothing is revoked.
    assert revoke(web, "till-1", page="/").headers["Location"] == "/operator"
    assert keys_of(app).verify(key) == "till-1"


def test_the_page_lists_each_key_never_the_key_itself(app, web):
    keys = keys_of(app)
    with time_machine.travel(NINE, tick=False) as clock:
        first = keys.create("till-1")
        clock.shift(3600)
        second = keys.create("erp")
        clock.shift(120)
        assert keys.verify(first) == "till-1"
        html = unlocked(web).get("/operator/keys").get_data(as_text=True)
    assert rows(html) == {
        "erp": f"erp …{second[-4:]} 25.11.2026 13:00 hiç kullanılmadı İptal et",
        "till-1": f"till-1 …{first[-4:]} 25.11.2026 12:00 25.11.2026 13:02 İptal et",
    }
    assert list(rows(html)) == ["erp", "till-1"]
    for key in (first, second):
        assert key not in html and key[:-4] not in html
    assert "kiosk keys create" in html  # how a key is made: on the server
    assert 'data-testid="nav-keys"' in html


def test_no_key_yet_and_no_way_to_make_one_here(app, web):
    html = unlocked(web).get("/operator/keys").get_data(as_text=True)
    assert 'data-testid="keys-empty"' in html and "<table" not in html
    assert "kiosk keys create" in html
    assert web.post("/operator/keys", data={"csrf_token": field(html, "csrf_token")}).status_code == 405


def test_the_page_speaks_english_too(make_app):
    app = make_app(DEFAULT_LOCALE="en")
    keys_of(app).create("till-1")
    html = unlocked(app.test_client()).get("/operator/keys").get_data(as_text=True)
    assert "API keys" in html and "never used" in html and ">Revoke<" in html


def test_revoke_a_key(app, web, caplog):
    caplog.set_level(logging.INFO, logger="kiosk")
    keys = keys_of(app)
    gone, kept = keys.create("till-1"), keys.create("till-2")
    unlocked(web)
    caplog.clear()
    response = revoke(web, "till-1")
    assert response.status_code == 303 and response.headers["Location"] == "/operator/keys?revoked=till-1"
    assert keys.verify(gone) is None and keys.verify(kept) == "till-2"
    html = web.get(response.headers["Location"]).get_data(as_text=True)
    assert list(rows(html)) == ["till-2"]
    assert 'data-testid="revoked"' in html and "till-1" in html
    audit = [(r.event, r.client, r.key, r.getMessage()) for r in caplog.records if r.name == "kiosk.audit"]
    assert audit == [("operator.key_revoke", "127.0.0.1", "till-1",
                      "operator.key_revoke from 127.0.0.1 on key till-1")]
    for record in caplog.records:
        assert gone not in f"{record.getMessage()} {record.__dict__}"


def test_the_revoked_notice_only_names_a_key_that_is_gone(app, web):
    keys_of(app).create("till-1")
    html = unlocked(web).get("/operator/keys?revoked=till-1").get_data(as_text=True)
    assert 'data-testid="revoked"' not in html
    assert 'data-testid="revoked"' not in web.get("/operator/keys?revoked=<b>").get_data(as_text=True)


@pytest.mark.parametrize("name", ["till-9", "TILL-1", "till-1x", "..", "a" * 41, "%00"])
def test_an_unknown_key_is_404_and_changes_nothing(app, web, name):
    key = keys_of(app).create("till-1")
    unlocked(web)
    assert revoke(web, name).status_code == 404
    assert keys_of(app).verify(key) == "till-1"


def test_a_revoked_key_gets_401_at_once_over_http(make_app):
    """The staff revokes over HTTP; the till's very next request with the key is refused."""
    app = make_app()
    keys = keys_of(app)
    key, other = keys.create("till-1"), keys.create("till-2")
    server = LiveServer(app)
    try:
        till = Till(server.url, key)
        assert till.get("/displays").status_code == 200
        staff = requests.Session()
        page = staff.get(server.url + "/operator", timeout=5).text
        staff.post(server.url + "/operator", data={"csrf_token": field(page, "csrf_token"), "pin": PIN},
                   timeout=5)
        page = staff.get(server.url + "/operator/keys", timeout=5).text
        assert f"…{key[-4:]}" in page and key not in page
        done = staff.post(server.url + "/operator/keys/till-1/revoke", timeout=5,
                          data={"csrf_token": field(page, "csrf_token")}, allow_redirects=False)
        assert done.status_code == 303
        refused = till.get("/displays")
        assert refused.status_code == 401 and refused.json()["error"]["code"] == "unauthorized"
        assert Till(server.url, other).get("/displays").status_code == 200
    finally:
        server.stop()
