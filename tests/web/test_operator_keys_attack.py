"""The operator's API keys page attacked over real HTTP: no PIN, another session's token, a
session locked meanwhile, names of every shape in the path, revoking twice, and records in the
store the page did not expect (a name with HTML in it, a newer version's record, garbage)."""

from __future__ import annotations

import json

import pytest
import requests

from kiosk.tills.keys import ApiKeys

from ..api_support import Till
from ..conftest import PIN
from ..support import LiveServer, field


@pytest.fixture
def kiosk(make_app):
    app = make_app(DEFAULT_LOCALE="en")
    server = LiveServer(app)
    server.keys = ApiKeys(app.extensions["kiosk"].store)
    server.store = app.extensions["kiosk"].store
    yield server
    server.stop()


def browser(kiosk, pin: str | None = PIN) -> requests.Session:
    web = requests.Session()
    page = web.get(kiosk.url + "/operator", timeout=5).text
    if pin is not None:
        done = web.post(kiosk.url + "/operator", data={"csrf_token": field(page, "csrf_token"), "pin": pin},
                        timeout=5, allow_redirects=False)
        assert done.status_code == 303
    return web


def token(web: requests.Session, kiosk, page: str = "/operator/keys") -> str:
    return field(web.get(kiosk.url + page, timeout=5).text, "csrf_token")


def revoke(web: requests.Session, kiosk, name: str, csrf: str) -> requests.Response:
    return web.post(f"{kiosk.url}/operator/keys/{name}/revoke", data={"csrf_token": csrf}, timeout=5,
                    allow_redirects=False)


def alive(kiosk, key: str) -> bool:
    return Till(kiosk.url, key).get("/displays").status_code == 200


def test_without_the_pin_another_sessions_token_or_after_locking_nothing_is_revoked(kiosk, sandbox):
    key = kiosk.keys.create("till-1")
    staff, stranger = browser(kiosk), browser(kiosk, pin=None)
    staffs = token(staff, kiosk)
    # A stranger with a form token of its own, and with the staff's.
    assert revoke(stranger, kiosk, "till-1", token(stranger, kiosk, "/")).headers["Location"] == "/operator"
    assert revoke(stranger, kiosk, "till-1", staffs).status_code in (302, 303)  # "page expired"
    assert alive(kiosk, key)
    # The staff locks the area: the page's token no longer revokes anything.
    staff.post(kiosk.url + "/operator/lock", data={"csrf_token": staffs}, timeout=5)
    assert revoke(staff, kiosk, "till-1", staffs).headers["Location"] == "/operator"
    assert alive(kiosk, key)


@pytest.mark.parametrize("name", [
    "..%2Ftill-1", "till-1%2F", "till-1%00", "till-1%20", "%20till-1", "TILL-1", "till%2D1x",
    "%C5%9F", "%EF%BC%B4ill-1", "a" * 41, "till-1;", ".", "%2E%2E",
])
def test_a_name_of_another_shape_in_the_path_revokes_nothing(kiosk, sandbox, name):
    key = kiosk.keys.create("till-1")
    staff = browser(kiosk)
    answer = revoke(staff, kiosk, name, token(staff, kiosk))
    assert answer.status_code in (404, 405, 308), (name, answer.status_code)  # 308: "//" merged
    assert alive(kiosk, key)


def test_revoking_twice_is_a_404_the_second_time(kiosk, sandbox):
    key = kiosk.keys.create("till-1")
    staff = browser(kiosk)
    assert revoke(staff, kiosk, "till-1", token(staff, kiosk)).status_code == 303
    assert revoke(staff, kiosk, "till-1", token(staff, kiosk)).status_code == 404
    assert not alive(kiosk, key)


def test_a_name_with_html_planted_in_the_store_is_shown_as_text(kiosk, sandbox):
    planted = {"name": '<img src=x onerror="alert(1)">', "hash": "0" * 64, "created": 1.0, "hint": "<b>"}
    kiosk.store.set("apikey:planted", json.dumps(planted))
    page = browser(kiosk).get(kiosk.url + "/operator/keys", timeout=5)
    assert page.status_code == 200
    assert "<img src=x" not in page.text and "&lt;img src=x" in page.text and "<b>" not in page.text


@pytest.mark.parametrize("record", [
    json.dumps({"name": "newer", "hash": "1" * 64, "created": 1.0, "hint": "abcd", "scopes": ["read"]}),
    json.dumps({"name": "older", "hash": "2" * 64}),
    "garbage", "[]", "null",
])
def test_a_record_of_another_version_or_garbage_leaves_the_page_and_the_api_working(kiosk, sandbox, record):
    key = kiosk.keys.create("till-1")
    kiosk.store.set("apikey:zz-other", record)
    page = browser(kiosk).get(kiosk.url + "/operator/keys", timeout=5)
    assert page.status_code == 200 and 'data-testid="key-row-till-1"' in page.text
    assert alive(kiosk, key)
    listed = {k.name for k in kiosk.keys.all()}
    assert listed == ({"till-1", "newer"} if "scopes" in record else {"till-1"})  # a newer one is kept


def test_the_audit_log_names_the_key_revoked_never_the_key(kiosk, sandbox, caplog):
    import logging

    caplog.set_level(logging.INFO, logger="kiosk.audit")
    gone = kiosk.keys.create("till-1")
    kiosk.keys.create("till-2")
    staff = browser(kiosk)
    caplog.clear()
    assert revoke(staff, kiosk, "till-1", token(staff, kiosk)).status_code == 303
    revoked = [r for r in caplog.records if getattr(r, "event", "") == "operator.key_revoke"]
    assert len(revoked) == 1 and revoked[0].key == "till-1" and "till-1" in revoked[0].getMessage()
    assert gone not in f"{revoked[0].getMessage()} {revoked[0].__dict__}"
