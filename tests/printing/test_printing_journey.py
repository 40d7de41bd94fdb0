"""Receipts that print themselves, end to end: the kiosk against the sandbox over HTTP, the real
job consumer, and a TCP listener on loopback where the shop's printer would be. A paid payment
prints one receipt within seconds; a printer that is off while the customer pays prints it once
it is back; taps racing, on one host or two on one Redis, make one printout each; reprints from
the console and the operator's detail say copy; a display's own printer takes its receipts."""

from __future__ import annotations

import re
import threading
import time

import pytest
import requests

from ..support import (
    CASHIER_PIN,
    STAFF_PIN,
    Customer,
    DemoDidNotStop,
    as_from_a_terminal,
    field,
    pair_display,
    stop_with_ctrl_c,
    unlock_staff,
)
from .printer import PrinterListener


@pytest.fixture
def printer():
    listener = PrinterListener()
    yield listener
    listener.down()


def wait_for(what: str, check, seconds: float = 15.0):
    deadline = time.monotonic() + seconds
    while not (value := check()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)
    return value


def paid(customer: Customer, sandbox, amount: str = "300") -> str:
    tx_id = customer.start(amount)
    sandbox.pay(tx_id, share="full")
    assert customer.poll(tx_id)[0] == "paid"
    return tx_id


def print_state(html: str) -> str:
    return re.search(r'data-testid="print-state" data-print="(\w+)"', html).group(1)


def test_a_paid_payment_prints_one_receipt_and_a_reprint_says_copy(make_app, watcher, sandbox, printer):
    app = make_app(COINS="TRX:TRX", AUTO_PRINT="printer", PRINTER_URL=printer.url, PRINTER_COLUMNS="32",
                   SHOP_NAME="Güneş Kafe", SHOP_ADDRESS="İstiklal Cad. 12|Beyoğlu / İstanbul",
                   SHOP_TAX_NUMBER="1234567890", OPERATOR_PIN=STAFF_PIN)
    watcher(app)
    customer = Customer(app.test_client(), sandbox)
    tx_id = paid(customer, sandbox)
    out = printer.wait_for(1, seconds=10)[0]
    tx = next(t for t in sandbox.transactions() if t["_id"] == tx_id)
    assert out.lines[0].strip() == "Güneş Kafe" and "Vergi no: 1234567890" in out.text
    assert out.value("Tutar") == "300,00 TL" and out.value("Bahşiş") == "0,00 TL"
    assert out.value("Toplam") == "300,00 TL"
    assert out.value("Cryptom Pay") == f"#{tx['sequenceID']}" and out.value("İşlem") == tx_id
    assert out.value("Ödendi") == "24 TRX" and out.value("Durum") == "Ödendi"
    assert out.cut_last and "KOPYA" not in out.text
    html = customer.web.get(f"/result/{tx_id}").get_data(as_text=True)
    assert print_state(html) == "printed" and 'data-testid="print-done"' in html
    assert 'data-testid="print-receipt"' in html
    # The customer's screen polls again, the watcher looks again: still one printout.
    customer.poll(tx_id)
    app.extensions["kiosk"].jobs.catch_up()
    assert len(printer.printouts()) == 1
    # The operator reprints from the transaction's detail: a copy.
    staff = app.test_client()
    unlock_staff(staff)
    detail = staff.get(f"/operator/tx/{tx_id}").get_data(as_text=True)
    assert 'data-testid="print-receipt"' in detail
    staff.post(f"/operator/tx/{tx_id}/print", data={"csrf_token": field(detail, "csrf_token"),
                                                    "nonce": field(detail, "nonce")})
    copy = printer.wait_for(2, seconds=10)[1]
    assert "KOPYA" in [line.strip() for line in copy.bold] and copy.value("Tutar") == "300,00 TL"


def test_the_customers_language_is_the_receipts(make_app, watcher, sandbox, printer):
    app = make_app(COINS="TRX:TRX", AUTO_PRINT="printer", PRINTER_URL=printer.url)
    watcher(app)
    customer = Customer(app.test_client(), sandbox)
    page = customer.amount_page()
    customer.post("/language", {"csrf_token": field(page, "csrf_token"), "locale": "en"})
    paid(customer, sandbox, "125.50")
    out = printer.wait_for(1, seconds=10)[0]
    assert out.value("Amount") == "125.50 TRY" and out.value("Status") == "Paid"
    assert max(len(line) for line in out.lines) == 48


def test_a_printer_that_is_off_prints_once_it_is_back(make_app, watcher, sandbox, printer):
    printer.down()
    app = make_app(COINS="TRX:TRX", AUTO_PRINT="printer", PRINTER_URL=printer.url, PRINT_RETRY="1/2/300",
                   OPERATOR_PIN=STAFF_PIN)
    watcher(app)
    prints = app.extensions["kiosk"].prints
    customer = Customer(app.test_client(), sandbox)
    tx_id = paid(customer, sandbox)
    wait_for("the first try", lambda: (p := prints.of_tx(tx_id)) and p.tries >= 1)
    html = customer.web.get(f"/result/{tx_id}").get_data(as_text=True)
    assert 'data-testid="print-waiting"' in html and "yazıcı açılınca" in html
    assert 'data-testid="result-paid"' in html  # the customer is not held up
    poll = customer.web.get(f"/result/{tx_id}/print", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert 'data-testid="print-waiting"' in poll and "hx-get" in poll
    assert 'data-testid="print-receipt"' not in poll  # no copy while the original waits
    staff = app.test_client()
    unlock_staff(staff)
    today = staff.get("/operator/today").get_data(as_text=True)
    assert 'data-testid="printer-down"' in today and printer.url in today
    assert 'data-testid="prints-waiting"' in today
    printer.up()
    out = printer.wait_for(1, seconds=15)
    assert len(out) == 1 and out[0].value("Tutar") == "300,00 TL"
    wait_for("the print's record", lambda: prints.of_tx(tx_id).state == "printed")
    assert prints.attention() == ([], [], [])
    done = customer.web.get(f"/result/{tx_id}/print", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert 'data-testid="print-done"' in done and "hx-get" not in done
    assert 'data-testid="print-receipt"' in done and ">Kopya yazdır<" in done
    assert 'data-testid="print-attention"' not in staff.get("/operator/today").get_data(as_text=True)
    assert len(printer.printouts()) == 1


def race(url: str, path: str, data: dict, cookies, times: int = 8) -> list[int]:
    """The same form sent `times` at once (a double tap, a laggy screen tapped again)."""
    codes: list[int] = []
    start = threading.Barrier(times)

    def tap() -> None:
        start.wait()
        codes.append(requests.post(url + path, data=data, cookies=cookies, allow_redirects=False,
                                   timeout=20).status_code)

    threads = [threading.Thread(target=tap) for _ in range(times)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return codes


def test_taps_racing_make_one_printout(kiosk, watcher, sandbox, printer):
    server = kiosk(PRINTER_URL=printer.url)  # KIOSK_AUTO_PRINT off: the button prints
    watcher(server.app)
    session = requests.Session()
    customer = Customer.over_http(server.url, session)
    tx_id = paid(customer, sandbox)
    html = session.get(f"{server.url}/result/{tx_id}", timeout=10).text
    assert print_state(html) == "none" and ">Makbuz yazdır<" in html
    form = {"csrf_token": field(html, "csrf_token"), "nonce": field(html, "nonce")}
    assert set(race(server.url, f"/result/{tx_id}/print", form, session.cookies)) == {303}
    first = printer.wait_for(1, seconds=10)
    html = session.get(f"{server.url}/result/{tx_id}", timeout=10).text
    assert ">Kopya yazdır<" in html
    # The next tap is a new request (a new form): a copy.
    session.post(f"{server.url}/result/{tx_id}/print", timeout=10,
                 data={"csrf_token": field(html, "csrf_token"), "nonce": field(html, "nonce")})
    outs = printer.wait_for(2, seconds=10)
    assert "KOPYA" not in first[0].text and "KOPYA" in outs[1].text
    assert len(printer.printouts()) == 2


def test_two_hosts_on_one_redis_print_a_request_once(make_app, watcher, sandbox, printer, redis_url):
    from ..support import LiveServer

    hosts = [LiveServer(make_app(COINS="TRX:TRX", REDIS_URL=redis_url, AUTO_PRINT="printer",
                                 PRINTER_URL=printer.url)) for _ in range(2)]
    try:
        for host in hosts:
            watcher(host.app)
        session = requests.Session()
        customer = Customer.over_http(hosts[0].url, session)
        tx_id = customer.start("300")
        sandbox.pay(tx_id, share="full")
        # The customer's screen asks one host, then the other (a load balancer between them).
        for host in hosts:
            assert session.get(f"{host.url}/pay/{tx_id}/status", headers={"HX-Request": "true"},
                               timeout=20).status_code == 200
        assert len(printer.wait_for(1, seconds=10)) == 1
        html = session.get(f"{hosts[1].url}/result/{tx_id}", timeout=10).text
        form = {"csrf_token": field(html, "csrf_token"), "nonce": field(html, "nonce")}
        codes = []
        path = f"/result/{tx_id}/print"
        jar = session.cookies
        threads = [threading.Thread(target=lambda h=h: codes.extend(race(h.url, path, form, jar, 4)))
                   for h in hosts]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert set(codes) == {303}
        outs = printer.wait_for(2, seconds=10)
        assert "KOPYA" in outs[1].text
        for host in hosts:
            host.app.extensions["kiosk"].jobs.catch_up()
        assert len(printer.printouts()) == 2
    finally:
        for host in hosts:
            host.stop()


def test_the_console_prints_on_the_displays_own_printer(make_app, watcher, sandbox, printer):
    own = PrinterListener()
    try:
        app = make_app(COINS="TRX:TRX", OPERATOR_PIN=STAFF_PIN, CASHIER_PIN=CASHIER_PIN,
                       PRINTER_URL=printer.url)
        watcher(app)
        staff, display, cashier = app.test_client(), app.test_client(), app.test_client()
        unlock_staff(staff)
        display_id = pair_display(staff, display, "Counter 1", "till")
        page = staff.get("/operator/displays").get_data(as_text=True)
        assert f'data-testid="printer-{display_id}"' in page
        bad = staff.post(f"/operator/displays/{display_id}/printer",
                         data={"csrf_token": field(page, "csrf_token"), "printer": "lpt1", "columns": "48"})
        assert bad.status_code == 422 and "tcp://SUNUCU:PORT" in bad.get_data(as_text=True)
        staff.post(f"/operator/displays/{display_id}/printer",
                   data={"csrf_token": field(page, "csrf_token"), "printer": own.url, "columns": "32"})
        page = staff.get("/operator/displays").get_data(as_text=True)
        assert f'value="{own.url}"' in page
        unlock_staff(cashier, CASHIER_PIN, "/till")
        html = cashier.get("/till").get_data(as_text=True)
        order_id = cashier.post("/till/charge", data={
            "csrf_token": field(html, "csrf_token"), "nonce": field(html, "nonce"), "display": display_id,
            "amount": "125.00", "reference": "till-4711"}).headers["Location"].rsplit("/", 1)[1]
        # One coin: the display starts the payment as it shows the order.
        tx_id = display.get("/display").headers["Location"].rsplit("/", 1)[1]
        sandbox.pay(tx_id, share="full")
        page = cashier.get(f"/till/checkout/{order_id}").get_data(as_text=True)
        assert 'data-status="paid"' in page and 'data-testid="print-receipt"' in page
        cashier.post(f"/till/checkout/{order_id}/print", data={"csrf_token": field(page, "csrf_token"),
                                                               "nonce": field(page, "nonce")})
        out = own.wait_for(1, seconds=10)[0]
        assert out.value("Referans") == "till-4711" and out.value("Tutar") == "125,00 TL"
        assert max(len(line) for line in out.lines) == 32
        assert printer.printouts() == []
    finally:
        own.down()


@pytest.mark.xfail(raises=DemoDidNotStop, strict=False,
                   reason="in the full two-worker run the demo has not stopped on SIGINT within 60 s "
                   "(it stops in under a second alone); open")
def test_the_demo_prints_to_a_printer_given_on_the_command_line(tmp_path, printer):
    import os
    import subprocess
    import sys

    from ..conftest import free_port

    kiosk_port, sandbox_port = free_port(), free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "kiosk.cli", "demo", "--port", str(kiosk_port), "--sandbox-port",
         str(sandbox_port), "--printer", printer.url, "--printer-columns", "32"],
        # KIOSK_TIPS empty: no tip screen (the demo asks for tips unless told otherwise).
        env={**os.environ, "PYTHONFAULTHANDLER": "1", "KIOSK_STATE_DIR": str(tmp_path),
             "KIOSK_COINS": "TRX:TRX", "KIOSK_TIPS": ""},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, preexec_fn=as_from_a_terminal)
    try:
        url = f"http://127.0.0.1:{kiosk_port}"
        wait_for("the demo", lambda: _answers(url + "/healthz"), seconds=30)
        customer = Customer.over_http(url)
        tx_id = customer.start("300")
        requests.post(f"http://127.0.0.1:{sandbox_port}/sandbox/transactions/{tx_id}/pay",
                      json={"share": "full"}, timeout=10).raise_for_status()
        assert customer.poll(tx_id)[0] == "paid"
        out = printer.wait_for(1, seconds=10)[0]
        assert out.value("Tutar") == "300,00 TL" and max(len(line) for line in out.lines) == 32
        text = stop_with_ctrl_c(proc)
    finally:
        proc.kill()
    assert f"Printer: {printer.url}" in text


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.ConnectionError:
        return False
