"""The back office in Chromium: the export downloaded from History, the X report, closing the day
and the Z report on A4 and 58 mm paper, with screenshots of each screen."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from playwright.sync_api import expect

from ..conftest import PIN
from ..printing.printer import PrinterListener
from .conftest import shot
from .test_journey import sell_then_unlock


def test_export_x_report_and_closing_the_day(page, kiosk_server, sandbox, watcher):
    printer = PrinterListener()
    try:
        run_back_office(page, kiosk_server, sandbox, watcher, printer)
    finally:
        printer.down()


def run_back_office(page, kiosk_server, sandbox, watcher, printer):
    kiosk = kiosk_server(SHOP_NAME="Kadıköy Kahve", PRINTER_URL=printer.url)
    watcher(kiosk.app)
    tx_id = sell_then_unlock(page, kiosk, sandbox, PIN)
    expect(page.get_by_test_id("paid-count")).to_be_visible()

    page.get_by_test_id("nav-history").click()
    day = page.evaluate("new Date().toLocaleDateString('sv-SE', {timeZone: 'Europe/Istanbul'})")
    page.get_by_test_id("export-from").fill(day)
    page.get_by_test_id("export-to").fill(day)
    shot(page, "70-operator-history-export")
    with page.expect_download() as caught:
        page.get_by_test_id("export-csv").click()
    download = caught.value
    text = Path(download.path()).read_bytes().decode("utf-8")
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert [(r["transaction_id"], r["amount"], r["total"], r["status"]) for r in rows] == [
        (tx_id, "300.00", "300.00", "paid")]
    assert download.suggested_filename == f"sales-{day}-{day}.csv"

    page.get_by_test_id("nav-reports").click()
    expect(page.get_by_test_id("x-report")).to_be_visible()
    expect(page.get_by_test_id("z-total")).to_have_text("₺300,00")
    expect(page.get_by_test_id("z-count")).to_have_text("1")
    shot(page, "71-operator-x-report")
    page.get_by_test_id("print-report").click()  # the X report on the shop's receipt printer
    expect(page.get_by_test_id("print-report-sent")).to_be_visible()
    assert printer.wait_for(1)[0].lines[0].strip() == "X raporu"
    shot(page, "71b-operator-x-report-printed")
    page.get_by_test_id("close-day").click()
    expect(page.get_by_test_id("z-number")).to_have_text("1")
    expect(page.get_by_test_id("z-total")).to_have_text("₺300,00")
    shot(page, "72-operator-z-report-a4")
    page.get_by_test_id("print-report").click()
    expect(page.get_by_test_id("print-report-sent")).to_be_visible()
    assert printer.wait_for(2)[1].lines[0].strip() == "Z raporu 1"
    page.get_by_test_id("paper-58mm").click()
    expect(page.get_by_test_id("z-number")).to_have_text("1")
    page.emulate_media(media="print")
    page.set_viewport_size({"width": 240, "height": 1400})
    shot(page, "73-operator-z-report-58mm")
    page.emulate_media(media="screen")
    page.set_viewport_size({"width": 1280, "height": 800})
    page.get_by_test_id("back").click()
    expect(page.get_by_test_id("z-row")).to_have_count(1)
    expect(page.get_by_test_id("z-count")).to_have_text("0")  # the X report starts again
    shot(page, "74-operator-reports-after-closing")
