"""Printing attacked as an outsider would: the customer's own paid checkout tapped far past the
sale's limit, each tap with a fresh token of the shape the server issues (it only checks the
shape), on a network printer and in the tablet's own browser. The limit bounds the printouts,
and it must bound what the taps write too: past it, a tap writes nothing."""

from __future__ import annotations

import secrets
import socket
import threading
import time

import pytest

from kiosk.printing import printers
from kiosk.printing.address import parse
from kiosk.printing.jobs import MAX_PER_SALE

from ..support import Customer, field
from .printer import PrinterListener


@pytest.fixture
def printer():
    listener = PrinterListener()
    yield listener
    listener.down()


def paid(customer: Customer, sandbox) -> str:
    tx_id = customer.start("300")
    sandbox.pay(tx_id, share="full")
    assert customer.poll(tx_id)[0] == "paid"
    return tx_id


def forged_nonce() -> str:
    return secrets.token_urlsafe(18)  # the shape of the server's own: 24 URL-safe characters


def keys(store, prefix: str) -> int:
    return len(store.items(prefix))


def test_taps_past_the_limit_write_nothing(make_app, sandbox, printer):
    app = make_app(COINS="TRX:TRX", AUTO_PRINT="off", PRINTER_URL=printer.url)
    store = app.extensions["kiosk"].store
    customer = Customer(app.test_client(), sandbox)
    tx_id = paid(customer, sandbox)
    token = field(customer.web.get(f"/result/{tx_id}").get_data(as_text=True), "csrf_token")
    for _ in range(MAX_PER_SALE):
        response = customer.post(f"/result/{tx_id}/print", {"csrf_token": token, "nonce": forged_nonce()})
        assert response.status_code == 303
    assert keys(store, "print-key:") == MAX_PER_SALE and keys(store, "print:") == MAX_PER_SALE
    for _ in range(50):
        response = customer.post(f"/result/{tx_id}/print", {"csrf_token": token, "nonce": forged_nonce()})
        assert response.status_code == 303 and response.headers["Location"] == f"/result/{tx_id}"
    assert keys(store, "print-key:") == MAX_PER_SALE and keys(store, "print:") == MAX_PER_SALE


def test_browser_prints_past_the_limit_write_nothing(make_app, sandbox):
    app = make_app(COINS="TRX:TRX", AUTO_PRINT="browser")
    store = app.extensions["kiosk"].store
    customer = Customer(app.test_client(), sandbox)
    tx_id = paid(customer, sandbox)
    for n in range(MAX_PER_SALE + 50):
        response = customer.web.get(f"/receipt/{tx_id}?paper=58mm&auto={forged_nonce()}")
        assert response.status_code == 200
        if n == MAX_PER_SALE - 1:
            assert keys(store, "print-key:browser:") == MAX_PER_SALE
    assert keys(store, "print-key:browser:") == MAX_PER_SALE


# -- the printer's end of the wire -------------------------------------------------------------


class Listener:
    """A TCP port on loopback that behaves as told: `take` records what it is sent; `stall`
    accepts and then never reads a byte (a hostile or wedged device)."""

    def __init__(self, family: int = socket.AF_INET, host: str = "127.0.0.1", stall: bool = False) -> None:
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.bind((host, 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self.got = b""
        self.stall = stall
        self.held: list[socket.socket] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        try:
            conn, _ = self.sock.accept()
        except OSError:
            return
        if self.stall:
            self.held.append(conn)
            return
        conn.settimeout(5)
        with conn:
            while chunk := conn.recv(65536):
                self.got += chunk

    def close(self) -> None:
        for conn in self.held:
            conn.close()
        self.sock.close()
        self.thread.join(5)


def test_a_printer_at_an_ipv6_address_takes_the_job():
    """`tcp://[::1]:9100` is an address the settings and the Displays page accept: it must print."""
    listener = Listener(socket.AF_INET6, "::1")
    try:
        printer = parse(f"tcp://[::1]:{listener.port}", 32)
        printers.send(printer, b"RECEIPT\n")
        listener.thread.join(5)
        assert listener.got == b"\x10\x04\x04RECEIPT\n"
    finally:
        listener.close()


def test_a_printer_that_never_reads_gives_the_job_back_in_time():
    """A device that accepts and reads nothing: the send gives up by its timeout (the whole
    send, not each piece of it), the worker is free again and the print is retried later."""
    listener = Listener(stall=True)
    try:
        printer = parse(f"tcp://127.0.0.1:{listener.port}", 48)
        started = time.monotonic()
        with pytest.raises(printers.PrinterDown):
            printers.send(printer, b"x" * 50_000_000, timeout=1.0)
        assert time.monotonic() - started < 1.0 + printers.STATUS_WAIT + 2.0
    finally:
        listener.close()


# -- what reaches the paper ---------------------------------------------------------------------


@pytest.mark.parametrize("columns", [32, 48])
def test_a_right_to_left_receipt_prints_on_either_paper(columns):
    """Arabic is printed as an image as wide as the paper: 576 dots on an 80 mm printer, which the
    command set's profile (512 dots) refused, so every such receipt on 80 mm paper gave up."""
    from datetime import UTC, datetime
    from types import SimpleNamespace
    from zoneinfo import ZoneInfo

    from kiosk.printing import commands, raster
    from kiosk.printing.receipt import Shop, from_sale

    from .printer import read

    try:
        raster.font()
    except raster.NoFont:
        pytest.skip("fonts-dejavu-core is not installed")
    sale = SimpleNamespace(
        amount="10.00", tip="1.00", received="1", coin_amount="1", paid_at=datetime.now(UTC), closed_at=None,
        created_at=datetime.now(UTC), lines=[{"name": "شاي", "quantity": 1, "unit_amount": "10.00"}],
        reference="ref-1", kiosk_ref=None, order_id=None, tx_id="abc", sequence_id=5, coin="TRX",
        network="TRX", address="T" * 34, status="paid", currency="TRY")
    shop = Shop("Güneş Kafe", ("İstiklal Cad. 12",), "1234567890", ZoneInfo("Europe/Istanbul"))
    out = read(commands.receipt_bytes(from_sale(sale, shop, language="ar", copy=False), columns))
    assert len(out.rasters) == 1 and out.rasters[0].width == columns * raster.DOTS_PER_COLUMN
    assert out.cut_last


def test_prints_that_gave_up_are_not_kept_past_the_day_they_are_shown(tmp_path):
    """A customer's twenty taps on a paid sale while the printer is off: twenty prints give up
    and the operator sees them for a day. The list of prints that gave up kept every one of them
    for ever (each sale's failures, day after day); now one older than the day it is shown
    goes when another gives up."""
    from decimal import Decimal
    from zoneinfo import ZoneInfo

    from kiosk.checkout import LocalStore
    from kiosk.ledger import Entry, Ledger, make_engine
    from kiosk.printing.jobs import FAILED, SHOW_FAILED, Prints, Retry
    from kiosk.printing.receipt import Shop

    at = [1_800_000_000.0]
    store = LocalStore(tmp_path / "kiosk.sqlite3")
    ledger = Ledger(make_engine(f"sqlite:///{tmp_path / 'ledger.sqlite3'}"), clock=lambda: at[0])
    ledger.record(Entry(at=at[0], tx_id="tx-1", status="paid", amount=Decimal("300.00"), currency="TRY",
                        coin="TRX", network="TRX", coin_amount=Decimal("24"), received=Decimal("24"),
                        created=at[0] - 60, sequence_id=7, started_by_kind="kiosk", kiosk_ref="ref-1"))
    with socket.socket() as closed:  # a port nobody listens on: the printer is off
        closed.bind(("127.0.0.1", 0))
        off = f"tcp://127.0.0.1:{closed.getsockname()[1]}"
    prints = Prints(store, ledger, shop=Shop("Kafe", (), "", ZoneInfo("Europe/Istanbul")), printer=parse(off),
                    retry=Retry(2.0, 8.0, 60.0), clock=lambda: at[0])

    def give_up(key: str) -> str:
        job = prints.receipt("tx-1", key)
        at[0] = job.created + 60
        prints.run(job.id)
        assert prints.get(job.id).state == "failed"
        return job.id

    first = [give_up(f"tap:{n}") for n in range(3)]
    assert {p.id for p in prints.attention()[2]} == set(first)
    at[0] += SHOW_FAILED + 1
    later = give_up("tap:later")
    assert [member for member, _ in store.scheduled(FAILED, float("inf"))] == [later]
    assert [p.id for p in prints.attention()[2]] == [later]
