"""The till API's money fields attacked: the tip is the customer's to choose on the display, never
the till's to set. A till that sends `tip_amount` or `total_amount` (too many digits, larger than
the amount, negative, a plausible 10 %) is told so and nothing is sent to the display: the tip
was silently dropped, and the customer asked again for one the till thought was paid."""

from __future__ import annotations

import pytest

from kiosk.tills.keys import ApiKeys

from ..support import STAFF_PIN, pair_display, unlock_staff


@pytest.fixture
def till(make_app):
    app = make_app(TIPS="5,10,15", OPERATOR_PIN=STAFF_PIN)
    staff = app.test_client()
    unlock_staff(staff)
    display = app.test_client()
    display_id = pair_display(staff, display, "Counter 1", "till")
    display.get("/display")
    key = ApiKeys(app.extensions["kiosk"].store).create("front")

    def post(json, idem="k-1"):
        return app.test_client().post("/api/v1/checkouts", json={"display_id": display_id, **json}, headers={
            "Authorization": f"Bearer {key}", "Idempotency-Key": idem})

    def listed():
        auth = {"Authorization": f"Bearer {key}"}
        return app.test_client().get("/api/v1/checkouts", headers=auth).get_json()

    return post, listed


@pytest.mark.parametrize("extra", [
    {"tip_amount": "12.50"}, {"tip_amount": "1.234"}, {"tip_amount": "999999999.00"},
    {"tip_amount": "-5.00"}, {"tip_amount": 12.5}, {"tip_amount": "0.00"},
    {"total_amount": "137.50"}, {"tip_amount": "12.50", "ask_tip": False},
])
def test_a_till_cannot_set_the_tip(till, extra):
    post, listed = till
    response = post({"amount": "125.00", **extra})
    assert response.status_code == 400, response.get_data(as_text=True)
    error = response.get_json()["error"]
    assert error["code"] == "invalid_request" and "tip" in error["message"]
    assert listed()["data"] == []
    # Without it, the same checkout goes through: the display asks the customer.
    made = post({"amount": "125.00"}, idem="k-2")
    assert made.status_code == 201 and made.get_json()["tip_amount"] == "0.00"
