"""An order a till sends a display is paid only by its own checkout, over real HTTP against
`kiosk serve` (gunicorn, two workers, the watcher, signed webhooks) and the sandbox.

The hole this pins: a display holding a 500.00 order was switched to keypad mode; its browser
posted the amount form with 1,00 and the nonce `order-<checkout id>`, the name the order's own
guard had. The 1.00 payment became the order's: the till API said `paid, amount 500.00`, and a
signed `paid` webhook for 500.00 went out."""

from __future__ import annotations

import re

import pytest
import requests

from kiosk.displays import Displays

from ..api_support import DisplayBrowser, kiosk_with_webhooks, store_of
from ..support import field

PIN = "135790"


@pytest.fixture(scope="module")
def server(sandbox_server, tmp_path_factory, receiver):
    state = tmp_path_factory.mktemp("order-guard")
    kiosk = kiosk_with_webhooks(sandbox_server.url, state, receiver, "till-1", OPERATOR_PIN=PIN,
                                POLL_INTERVAL="1", CREATE_LIMIT="1000/60")
    yield kiosk
    kiosk.stop()


class Staff:
    """The operator area in a browser of its own: unlocked with the PIN, its forms with their
    CSRF token, nothing followed."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = requests.Session()
        html = self.http.get(url + "/operator", timeout=10).text
        unlocked = self.http.post(url + "/operator", data={"csrf_token": field(html, "csrf_token"),
                                                           "pin": PIN}, allow_redirects=False, timeout=10)
        assert unlocked.status_code == 303, unlocked.text[:300]

    def displays(self) -> requests.Response:
        return self.http.get(self.url + "/operator/displays", timeout=10)

    def post(self, path: str, **data: str) -> requests.Response:
        token = field(self.displays().text, "csrf_token")
        return self.http.post(self.url + path, data={"csrf_token": token, **data}, allow_redirects=False,
                              timeout=30)


def keypad_form(display: DisplayBrowser, amount: str, nonce: str | None = None) -> requests.Response:
    """The amount form as the display's browser posts it; `nonce` replaces the one the page holds."""
    html = display.http.get(display.url + "/", allow_redirects=False, timeout=10).text
    data = {"csrf_token": field(html, "csrf_token"), "nonce": nonce or field(html, "nonce"), "amount": amount}
    return display.http.post(display.url + "/", data=data, allow_redirects=False, timeout=30)


def paid_by_the_display(display: DisplayBrowser, sandbox, answer: requests.Response) -> str:
    """The display's own keypad payment, paid in full at the sandbox and seen paid on its screen."""
    tx_id = re.search(r"/pay/([0-9a-f]{24})$", answer.headers["Location"]).group(1)
    sandbox.pay(tx_id)
    assert display.poll_until(tx_id, "paid")
    return tx_id


def test_a_keypad_form_with_the_orders_name_never_pays_the_order(server, till, display, sandbox, receiver):
    """The hole as it was reported, played by a real display's browser. The display got into
    keypad mode while busy the way the Displays page allowed before (written straight to the
    store here: the page now refuses it, see the next test)."""
    made = till.create(display.id, "500.00").json()
    assert made["status"] == "pending"
    displays = Displays(store_of(server.state))
    displays.set_mode(displays.get(display.id), "keypad")
    creates = sandbox.calls("create")
    forged = keypad_form(display, "1,00", nonce=f"order-{made['id']}")
    if forged.status_code == 303:  # the hole: a 1.00 payment, paid by the customer
        paid_by_the_display(display, sandbox, forged)
    # The display's own keypad payment, with the form's real nonce: paid, and never the order's.
    own = paid_by_the_display(display, sandbox, keypad_form(display, "1,00"))
    checkout = till.get(f"/checkouts/{made['id']}").json()
    assert (checkout["status"], checkout["amount"], checkout["transaction_id"], checkout["received"]) == (
        "pending", "500.00", None, None), checkout
    assert own != checkout["transaction_id"]
    # Webhooks of one checkout arrive in order: the cancel's comes after anything before it.
    assert till.post(f"/checkouts/{made['id']}/cancel").json()["status"] == "cancelled"
    assert receiver.wait_for(made["id"], "cancelled") == ["pending", "cancelled"]
    # The form was refused as a stale one (the server never issues a nonce of that shape), and
    # nothing reached upstream for it: the only create is the display's own 1.00.
    assert forged.status_code == 422 and 'data-testid="error"' in forged.text
    assert sandbox.calls("create") == creates + 1


def test_the_displays_page_keeps_a_busy_displays_mode_until_staff_end_its_order(server, till, display,
                                                                                sandbox, receiver):
    staff = Staff(server.url)
    made = till.create(display.id, "500.00").json()
    refused = staff.post(f"/operator/displays/{display.id}/mode", mode="keypad")
    assert refused.status_code == 409 and 'data-testid="error"' in refused.text
    [row] = [d for d in till.get("/displays").json()["data"] if d["id"] == display.id]
    assert (row["mode"], row["busy"]) == ("till", True)
    # The display shows the order (one coin: its own 500.00 transaction); the keypad's form is
    # not a till display's: sent back to its own screen, nothing made.
    tx_id = display.tx_id()
    token = field(display.look().text, "csrf_token")
    creates = sandbox.calls("create")
    answer = display.http.post(display.url + "/", data={"csrf_token": token, "amount": "1,00",
                                                        "nonce": f"order-{made['id']}"},
                               allow_redirects=False, timeout=10)
    assert (answer.status_code, answer.headers["Location"]) == (303, "/display")
    assert sandbox.calls("create") == creates
    assert till.get(f"/checkouts/{made['id']}").json()["transaction_id"] == tx_id
    # Staff end the order from the same page, then the mode changes.
    ended = staff.post(f"/operator/displays/{display.id}/end-order")
    assert ended.status_code == 303
    checkout = till.get(f"/checkouts/{made['id']}").json()
    assert (checkout["status"], checkout["cancel_reason"]) == ("cancelled", "operator")
    assert receiver.wait_for(made["id"], "cancelled") == ["pending", "waiting", "cancelled"]
    assert staff.post(f"/operator/displays/{display.id}/mode", mode="keypad").status_code == 303
    [row] = [d for d in till.get("/displays").json()["data"] if d["id"] == display.id]
    assert (row["mode"], row["busy"]) == ("keypad", False)
    assert "operator.display_end_order" in server.log_path.read_text()


def test_the_till_api_has_no_way_to_change_a_busy_displays_mode(server, till, display):
    """Pairing sets a new display's mode (it holds nothing yet); nothing else in the API does."""
    made = till.create(display.id, "500.00").json()
    for method, path in (("patch", f"/displays/{display.id}"), ("put", f"/displays/{display.id}"),
                         ("post", f"/displays/{display.id}"), ("post", f"/displays/{display.id}/mode")):
        answer = getattr(till.http, method)(till.url + path, json={"mode": "keypad"}, timeout=10)
        assert answer.status_code == 404, (method, path)
    # Pairing the same browser again is refused: it is paired already.
    again = till.post("/displays", {"pairing_code": "ABCDEF", "name": "x", "mode": "keypad"})
    assert again.status_code == 404
    [row] = [d for d in till.get("/displays").json()["data"] if d["id"] == display.id]
    assert (row["mode"], row["busy"]) == ("till", True)
    assert till.post(f"/checkouts/{made['id']}/cancel").json()["status"] == "cancelled"

