"""Receipts under `kiosk serve`: gunicorn's workers ask for the print, the job consumer its master
starts sends it to the printer (a TCP listener on loopback). Nobody looks at the screen after
paying: the watcher sees the payment complete, and the receipt prints once."""

from __future__ import annotations

from ..conftest import free_port
from ..printing.printer import PrinterListener
from ..support import Customer, Gunicorn


def test_a_payment_nobody_watches_prints_its_receipt_once(sandbox, tmp_path):
    printer = PrinterListener()
    state = tmp_path / "state"
    state.mkdir()
    server = Gunicorn(sandbox.url, state, free_port(), AUTO_PRINT="printer", PRINTER_URL=printer.url,
                      WATCH_INTERVAL="1", SHOP_NAME="Güneş Kafe")
    try:
        customer = Customer.over_http(server.url)
        tx_id = customer.start("300")
        sandbox.pay(tx_id, share="full")  # the screen was closed: only the watcher looks
        out = printer.wait_for(1, seconds=20)
        assert out[0].lines[0].strip() == "Güneş Kafe" and out[0].value("Tutar") == "300,00 TL"
        assert out[0].cut_last
        # The customer's screen comes back to it: still one printout.
        assert customer.poll(tx_id)[0] == "paid"
        html = customer.get(f"/result/{tx_id}").text
        assert 'data-print="printed"' in html
        assert len(printer.printouts()) == 1
    finally:
        server.stop()
        printer.down()
