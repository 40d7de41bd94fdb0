"""A chain's deployment as docs/deployment.md describes it: two `kiosk serve` hosts on one Redis
and one PostgreSQL, behind the documented nginx (TLS, the hosts taken in turn), and Chromium on
the tablet through https://. The customer's requests land on both hosts; the sale is one row in
the fleet's ledger, and the staff's X and Z reports read it from either host. A host stopped
while a customer waits: the other finishes the checkout."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from ...browser.conftest import LANDSCAPE, shot, watch_errors
from ...browser.test_journey import start_payment
from ...support import Gunicorn
from ..fleet_setup import running_fleet
from .conftest import HOST, PIN, launch_chromium, start_nginx

FLEET = {"BEHIND_PROXY": "true", "SECURE_COOKIES": "true", "OPERATOR_PIN": PIN, "WORKERS": "1",
         "COINS": "TRX:TRX,USDT:TRX", "POLL_INTERVAL": "1", "WATCH_INTERVAL": "1", "CREATE_LIMIT": "100/60",
         "LOG_FORMAT": "text"}


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    """The fleet and its nginx, for this module only."""
    root = tmp_path_factory.mktemp("chain")
    with running_fleet(root, FLEET, FLEET) as fleet:
        (root / "nginx").mkdir()
        nginx = start_nginx(root / "nginx", [host.url.removeprefix("http://") for host in fleet.hosts])
        try:
            fleet.url = f"https://{HOST}:{nginx.https_port}"
            yield fleet
        finally:
            nginx.stop()


@pytest.fixture
def tablet(chain, playwright_driver):
    browser = launch_chromium(playwright_driver)
    errors: list[str] = []
    context = browser.new_context(viewport=LANDSCAPE, has_touch=True)
    page = context.new_page()
    watch_errors(page, errors)
    page.set_default_timeout(15000)
    yield page
    context.close()
    browser.close()
    # A poll that met the stopped host is retried by nginx on the other: nothing for the screen.
    assert errors == []


def served(host: Gunicorn, path_part: str) -> int:
    return len(host.workers(path_part))


def test_a_sale_through_a_chain_over_https_is_one_row_the_reports_of_either_host_count(chain, tablet):
    sandbox, hosts, ledger, url = chain.sandbox, chain.hosts, chain.ledger, chain.url
    page = tablet
    tx_id = start_payment(page, url, digits="10000")
    shot(page, "fleet-https-01-pay")
    # Its screen polls through nginx, which takes the hosts in turn: both answer it.
    expect(page.get_by_test_id("payment-status")).to_have_attribute("data-outcome", "waiting")
    deadline = time.monotonic() + 20
    while min(served(host, f"/pay/{tx_id}") for host in hosts) < 1:
        assert time.monotonic() < deadline, "the screen's requests did not reach both hosts"
        page.wait_for_timeout(250)
    sandbox.pay(tx_id, share="full")
    expect(page.get_by_test_id("result-paid")).to_be_visible()
    expect(page.get_by_test_id("fiat-amount")).to_have_text("₺100,00")
    shot(page, "fleet-https-02-paid")
    [row] = [r for r in ledger.all() if r.tx_id == tx_id]
    assert (row.status, row.amount, row.currency) == ("paid", Decimal("100.00"), "TRY")
    unclosed = [r for r in ledger.all() if r.status == "paid" and r.z_number is None]
    total = "₺" + format(sum(r.amount + r.tip for r in unclosed), ".2f").replace(".", ",")

    # The staff's reports: whichever host answers, the fleet's one ledger.
    page.goto(url + "/operator")
    page.get_by_test_id("pin").fill(PIN)
    page.get_by_test_id("unlock").click()
    page.get_by_test_id("nav-reports").click()
    expect(page.get_by_test_id("x-report")).to_be_visible()
    for _ in range(3):  # read again: the next host in turn shows the same figures
        expect(page.get_by_test_id("z-total")).to_have_text(total)
        expect(page.get_by_test_id("z-count")).to_have_text(str(len(unclosed)))
        page.reload()
    page.get_by_test_id("close-day").click()
    expect(page.get_by_test_id("z-number")).to_have_text("1")
    expect(page.get_by_test_id("z-total")).to_have_text(total)
    shot(page, "fleet-https-03-z-report")
    assert all(served(host, "/operator") for host in hosts)


def test_a_host_stopped_while_its_customer_waits_the_other_finishes_the_sale(chain, tablet):
    sandbox, ledger, page = chain.sandbox, chain.ledger, tablet
    tx_id = start_payment(page, chain.url, digits="4250")
    expect(page.get_by_test_id("payment-status")).to_have_attribute("data-outcome", "waiting")
    log = chain.hosts[0].stop()  # its worker finishes what it holds; nginx takes the other from now on
    try:
        assert "Traceback" not in log
        other = chain.hosts[1]
        before = served(other, f"/pay/{tx_id}")
        deadline = time.monotonic() + 20
        while served(other, f"/pay/{tx_id}") < before + 2:  # the screen polls on, on the other host
            assert time.monotonic() < deadline, "the screen's polls did not reach the other host"
            page.wait_for_timeout(250)
        sandbox.pay(tx_id, share="full")
        expect(page.get_by_test_id("result-paid")).to_be_visible()
        expect(page.get_by_test_id("fiat-amount")).to_have_text("₺42,50")
    finally:
        chain.restart(0)
    [row] = [r for r in ledger.all() if r.tx_id == tx_id]
    assert (row.status, row.amount) == ("paid", Decimal("42.50"))
    assert [tx["currencyAmount"] for tx in sandbox.transactions()].count("42.5") == 1  # one transaction
