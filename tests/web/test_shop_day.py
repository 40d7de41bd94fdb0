"""The shop's day ends at midnight in KIOSK_TIMEZONE, not the host's: history filters and today's
totals on both sides of it. The clock is pinned, so these pass under any host TZ at any hour."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine

from kiosk.cryptom import CryptomClient
from kiosk.sandbox import DEFAULT_EMAIL, DEFAULT_PASSWORD

from ..support import field

SHOP = ZoneInfo("Europe/Istanbul")
EVENING = datetime(2026, 3, 14, 23, 59, tzinfo=SHOP)  # 20:59 UTC
MORNING = datetime(2026, 3, 15, 0, 1, tzinfo=SHOP)  # 21:01 UTC, the same UTC day


def paid(sandbox, amount: str) -> str:
    client = CryptomClient(sandbox.url, DEFAULT_EMAIL, DEFAULT_PASSWORD)
    tx = client.create_transaction("TRY", Decimal(amount), "TRX", "TRX")
    sandbox.pay(tx.id, share="full")
    return tx.id


def rows(html: str) -> int:
    return html.count('data-testid="history-row"')


def unlock(web, pin: str) -> None:
    html = web.get("/operator").get_data(as_text=True)
    response = web.post("/operator", data={"csrf_token": field(html, "csrf_token"), "pin": pin})
    assert response.headers["Location"] == "/operator/today"


@pytest.fixture(autouse=True)
def host_zone_restored():
    yield
    time.tzset()  # monkeypatch has put TZ back by now


@pytest.fixture
def split_at_midnight(sandbox):
    """One payment at 23:59 and one at 00:01, shop time."""
    with time_machine.travel(EVENING, tick=False):
        evening = paid(sandbox, "111")
    with time_machine.travel(MORNING, tick=False):
        morning = paid(sandbox, "222")
    return evening, morning


@pytest.mark.parametrize("host_tz", ["UTC", "Pacific/Kiritimati", "Pacific/Pago_Pago"])
def test_history_date_filters_split_at_the_shops_midnight(make_app, split_at_midnight, host_tz,
                                                          monkeypatch):
    monkeypatch.setenv("TZ", host_tz)
    time.tzset()
    assert time.localtime(MORNING.timestamp()).tm_zone != "+03"  # the host is not the shop
    web = make_app(OPERATOR_PIN="246810").test_client()
    with time_machine.travel(MORNING + timedelta(minutes=5), tick=False):
        unlock(web, "246810")
        first = web.get("/operator/history?from=2026-03-14&to=2026-03-14").get_data(as_text=True)
        second = web.get("/operator/history?from=2026-03-15&to=2026-03-15").get_data(as_text=True)
        both = web.get("/operator/history?from=2026-03-14&to=2026-03-15").get_data(as_text=True)
    # By the amounts as the shop reads them: a sequence number such as #10222 holds "222" too.
    assert rows(first) == 1 and "₺111,00" in first and "₺222,00" not in first
    assert rows(second) == 1 and "₺222,00" in second and "₺111,00" not in second
    assert rows(both) == 2


def test_today_starts_at_the_shops_midnight(make_app, split_at_midnight):
    web = make_app(OPERATOR_PIN="246810").test_client()
    with time_machine.travel(MORNING + timedelta(minutes=5), tick=False):
        unlock(web, "246810")
        html = web.get("/operator/today").get_data(as_text=True)
    assert 'data-testid="paid-count">1<' in html
    assert 'data-testid="paid-total">₺222,00<' in html


def test_before_midnight_the_evening_payment_is_today(make_app, sandbox):
    with time_machine.travel(EVENING - timedelta(minutes=1), tick=False):
        paid(sandbox, "111")
        web = make_app(OPERATOR_PIN="246810").test_client()
        unlock(web, "246810")
    with time_machine.travel(EVENING + timedelta(seconds=30), tick=False):
        html = web.get("/operator/today").get_data(as_text=True)
    assert 'data-testid="paid-count">1<' in html
    assert 'data-testid="paid-total">₺111,00<' in html
