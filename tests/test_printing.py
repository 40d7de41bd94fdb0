"""Receipts on paper: the layout at 32 and 48 columns, the ESC/POS a printer gets (read back by
the tests' own reader), and print jobs against a real TCP listener: once per request, copies
marked, a printer that is off tried again until it answers, and given up after its window."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from huey import MemoryHuey

from kiosk.checkout import LocalStore
from kiosk.ledger import Entry, Ledger, make_engine
from kiosk.printing import commands, printers
from kiosk.printing.address import Printer, parse
from kiosk.printing.jobs import Prints, Retry
from kiosk.printing.receipt import Row, Shop, from_sale, rows, text_lines

from .printer_support import PrinterListener, read

SHOP = Shop("Güneş Kafe", ("İstiklal Cad. 12", "Beyoğlu / İstanbul"), "1234567890",
            ZoneInfo("Europe/Istanbul"))
ADDRESS = "TXYZabcdefghijklmnopqrstuvwxyz12"


def sale(**changes):
    values = dict(
        amount=Decimal("1234.50"), currency="TRY", received=Decimal("148.874"),
        coin_amount=Decimal("148.874"),
        coin="USDT", network="TRX", paid_at=datetime(2026, 12, 7, 11, 5, tzinfo=UTC), closed_at=None,
        created_at=datetime(2026, 12, 7, 11, 0, tzinfo=UTC), lines=[], reference=None, kiosk_ref="k7Hq9w",
        order_id=None, tx_id="6571f0a1b2c3d4e5f6a7b8c9", sequence_id=1042, address=ADDRESS, status="paid",
    )
    values.update(changes)
    return SimpleNamespace(**values)


def printed(language: str = "tr", columns: int = 32, copy: bool = False, **changes):
    receipt = from_sale(sale(**changes), SHOP, language=language, copy=copy)
    return read(commands.receipt_bytes(receipt, columns))


# -- the receipt -------------------------------------------------------------------------------


@pytest.mark.parametrize("columns", [32, 48])
def test_a_receipt_fits_its_paper_and_ends_with_a_cut(columns):
    out = printed(columns=columns)
    assert max(len(line) for line in out.lines) == columns  # the rules go edge to edge
    assert all(len(line) <= columns for line in out.lines)
    assert out.cuts == 1 and out.cut_last
    assert out.unknown == []


def test_turkish_letters_print_in_the_printers_code_page():
    out = printed("tr")
    assert out.code_pages == ["cp857"]
    assert out.lines[0].strip() == "Güneş Kafe"
    assert "İstiklal Cad. 12" in out.text and "Beyoğlu / İstanbul" in out.text
    assert out.value("Tarih") == "07.12.2026 14:05"  # the shop's time zone
    assert out.value("Tutar") == "1.234,50 TL"
    assert out.value("Bahşiş") == "0,00 TL"
    assert out.value("Toplam") == "1.234,50 TL"
    assert "Toplam" in "\n".join(out.bold)
    assert out.value("Referans") == "k7Hq9w"
    assert out.value("Cryptom Pay") == "#1042"
    assert out.value("İşlem") == "6571f0a1b2c3d4e5f6a7b8c9"
    assert out.value("Ödendi") == "148.874 USDT"
    assert out.value("Kur") == "1 USDT = 8,29 TL"
    assert out.value("Cüzdan adresi") == "TXYZab...wxyz12"
    assert out.value("Durum") == "Ödendi"
    assert "Vergi no: 1234567890" in out.text
    assert "KOPYA" not in out.text


def test_an_english_receipt_of_a_turkish_shop_keeps_the_shops_letters():
    out = printed("en", 48)
    assert out.lines[0].strip() == "Güneş Kafe"  # PC857 holds them; PC858 would not
    assert out.value("Amount") == "1,234.50 TRY"  # no lira sign in the code page: its code
    assert out.value("Tip") == "0.00 TRY"
    assert out.value("Total") == "1,234.50 TRY"


def test_a_tip_is_added_to_the_total_rounded_half_up():
    out = printed("en", 48, tip=Decimal("10.005"))
    assert out.value("Tip") == "10.01 TRY"
    assert out.value("Total") == "1,244.51 TRY"


def test_a_reprint_says_copy():
    assert "KOPYA" in printed("tr", copy=True).bold[1]
    assert "COPY" in printed("en", copy=True).text


def test_the_lines_of_an_order_are_printed():
    out = printed("en", 48, lines=[{"name": "Çay", "quantity": 2, "unit_amount": "617.25"}],
                  reference="INV-77")
    assert "Çay" in out.lines
    assert out.value("  2 x 617.25 TRY") == "1,234.50 TRY"
    assert out.value("Reference") == "INV-77"


def test_an_arabic_receipt_is_a_raster_image_right_to_left():
    import os

    from kiosk.printing import raster

    try:
        raster.font()
    except raster.NoFont:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip("fonts-dejavu-core is not installed: run `make test` as root")
    out = printed("ar", 32)
    assert out.lines == [] and len(out.rasters) == 1 and out.cuts == 1 and out.cut_last
    image = out.rasters[0]
    assert image.width == 384 and image.height > 400
    first, last = image.dark_columns()
    assert first < 10 and last > image.width - 10  # labels at the right edge, values at the left


def test_a_pair_that_does_not_fit_puts_its_value_below_at_the_edge():
    fits = text_lines([Row("pair", "Label", "x" * 26)], 32)  # 5 + 1 + 26 = 32
    assert [line for line, _ in fits] == ["Label " + "x" * 26]
    spills = text_lines([Row("pair", "Label", "x" * 27)], 32)
    assert [line for line, _ in spills] == ["Label", " " * 5 + "x" * 27]


def test_a_long_address_is_shortened_and_a_short_one_is_not():
    assert rows(from_sale(sale(address="T" * 16), SHOP, language="en", copy=False))
    out = printed("en", 48, address="T" * 16)
    assert out.value("Wallet address") == "T" * 16
    assert printed("en", 48, address="T" * 17).value("Wallet address") == "TTTTTT...TTTTTT"


def test_printer_addresses():
    assert parse("tcp://192.168.1.50") == Printer("192.168.1.50", 9100, 48)
    assert parse("tcp://printer.local:65535", 32) == Printer("printer.local", 65535, 32)
    for bad in ("tcp://host:65536", "tcp://host:0", "http://host:9100", "192.168.1.50", ""):
        with pytest.raises(ValueError):
            parse(bad)
    with pytest.raises(ValueError):
        parse("tcp://host", 40)


# -- print jobs --------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.at = 1_800_000_000.0

    def __call__(self) -> float:
        return self.at


@pytest.fixture
def printer():
    listener = PrinterListener()
    yield listener
    listener.down()


@pytest.fixture
def setup(tmp_path, printer):
    """A print service over a real store, a real ledger with one paid sale, an in-memory queue
    run by hand, a settable clock, and the listener as the shop's printer."""
    clock = Clock()
    store = LocalStore(tmp_path / "kiosk.sqlite3")
    ledger = Ledger(make_engine(f"sqlite:///{tmp_path / 'ledger.sqlite3'}"), clock=clock)
    ledger.record(Entry(at=clock.at, tx_id="tx-1", status="paid", amount=Decimal("300.00"), currency="TRY",
                        coin="TRX", network="TRX", coin_amount=Decimal("24"), received=Decimal("24"),
                        created=clock.at - 60, sequence_id=7, started_by_kind="kiosk", kiosk_ref="ref-1"))
    huey = MemoryHuey("prints-test", immediate=False)
    prints = Prints(store, huey, ledger, shop=SHOP, printer=parse(printer.url, 32), default_language="tr",
                    retry=Retry(2.0, 8.0, 60.0), clock=clock)
    return SimpleNamespace(clock=clock, store=store, ledger=ledger, huey=huey, prints=prints)


def run_queue(huey) -> int:
    """Run what the queue holds now (not what is scheduled for later)."""
    ran = 0
    while (task := huey.dequeue()) is not None:
        huey.execute(task)
        ran += 1
    return ran


def test_one_request_makes_one_printout_however_often_it_is_asked(setup, printer):
    first = setup.prints.receipt("tx-1", "tap:aaaa")
    again = setup.prints.receipt("tx-1", "tap:aaaa")
    assert again.id == first.id
    assert run_queue(setup.huey) == 1
    outs = printer.wait_for(1)
    assert setup.prints.get(first.id).state == "printed"
    setup.prints.run(first.id)  # a job run twice (a sweep) prints nothing more
    assert len(printer.printouts()) == 1
    assert outs[0].value("Tutar") == "300,00 TL" and outs[0].value("Cryptom Pay") == "#7"
    assert "KOPYA" not in outs[0].text


def test_every_print_after_the_first_is_a_copy(setup, printer):
    setup.prints.receipt("tx-1", "auto:tx-1")
    second = setup.prints.receipt("tx-1", "tap:bbbb")
    assert second.copy
    run_queue(setup.huey)
    outs = printer.wait_for(2)
    assert sorted("KOPYA" in out.text for out in outs) == [False, True]


def test_a_printer_that_is_off_gets_the_print_once_it_is_back(setup, printer):
    printer.down()
    job = setup.prints.receipt("tx-1", "auto:tx-1")
    run_queue(setup.huey)
    waiting = setup.prints.get(job.id)
    assert waiting.state == "waiting" and waiting.tries == 1 and waiting.due == setup.clock.at + 2
    down = setup.prints.printer_down(job.printer)
    assert down["since"] == setup.clock.at and down["error"] == "not answering"
    assert [p.id for p in setup.prints.attention()[0]] == [job.id]
    setup.clock.at += 1  # not due yet: a stray run does nothing
    setup.prints.run(job.id)
    assert setup.prints.get(job.id).tries == 1
    setup.clock.at += 1
    setup.prints.run(job.id)  # still off: waits longer (2 s, then 4 s)
    assert setup.prints.get(job.id).due == setup.clock.at + 4
    printer.up()
    setup.clock.at += 4
    setup.prints.run(job.id)
    assert len(printer.wait_for(1)) == 1
    assert setup.prints.get(job.id).state == "printed"
    assert setup.prints.printer_down(job.printer) is None
    assert setup.prints.attention() == ([], [], [])
    setup.prints.run(job.id)
    assert len(printer.printouts()) == 1


def test_a_print_gives_up_at_the_end_of_its_window_and_the_operator_sees_it(setup, printer):
    printer.down()
    job = setup.prints.receipt("tx-1", "auto:tx-1")
    run_queue(setup.huey)
    while setup.prints.get(job.id).state == "waiting":
        setup.clock.at = setup.prints.get(job.id).due
        assert setup.clock.at <= job.created + 60  # never tried past its window
        setup.prints.run(job.id)
    assert setup.clock.at == job.created + 60
    assert setup.prints.get(job.id).state == "failed"
    waiting, down, failed = setup.prints.attention()
    assert waiting == [] and [d["url"] for d in down] == [printer.url] and [p.id for p in failed] == [job.id]
    setup.prints.dismiss(job.id)
    assert setup.prints.attention()[2] == []


def test_a_printer_out_of_paper_gets_nothing_until_it_has_paper(setup, printer):
    printer.paper_out = True
    job = setup.prints.receipt("tx-1", "auto:tx-1")
    run_queue(setup.huey)
    assert setup.prints.get(job.id).error == "out of paper" and printer.printouts() == []
    printer.paper_out = False
    setup.clock.at += 2
    setup.prints.run(job.id)
    assert len(printer.wait_for(1)) == 1


def test_the_sweep_queues_a_print_whose_job_was_lost(setup, printer):
    job = setup.prints.receipt("tx-1", "auto:tx-1")
    setup.huey.flush()  # the host died with the job
    assert setup.prints.sweep(lag=15) == 0  # not overdue yet
    setup.clock.at += 16
    assert setup.prints.sweep(lag=15) == 1
    run_queue(setup.huey)
    assert len(printer.wait_for(1)) == 1 and setup.prints.get(job.id).state == "printed"


def test_a_sale_the_ledger_has_not_heard_of_waits_without_blaming_the_printer(setup, printer):
    job = setup.prints.receipt("tx-unknown", "auto:tx-unknown")
    run_queue(setup.huey)
    assert setup.prints.get(job.id).state == "waiting" and printer.printouts() == []
    assert setup.prints.printer_down(job.printer) is None


def test_a_display_with_its_own_printer_prints_there(setup, printer):
    own = PrinterListener()
    try:
        printers.set_for_display(setup.store, "disp1", own.url, "48")
        setup.prints.receipt("tx-1", "auto:tx-1", display_id="disp1")
        run_queue(setup.huey)
        out = own.wait_for(1)[0]
        assert max(len(line) for line in out.lines) == 48
        assert printer.printouts() == []
    finally:
        own.down()


def test_a_sale_prints_at_most_twenty_times(setup, printer):
    for n in range(20):
        setup.prints.receipt("tx-1", f"tap:{n}")
    from kiosk.printing.jobs import TooMany

    with pytest.raises(TooMany):
        setup.prints.receipt("tx-1", "tap:21")


def test_a_document_prints_through_the_same_job(setup, printer):
    """The hook the X and Z reports print through."""
    setup.prints.document("z:2026-12-07", "Z report", [("Payments", "3"), ("Total", "900,00 TL")])
    run_queue(setup.huey)
    out = printer.wait_for(1)[0]
    assert out.lines[0].strip() == "Z report" and out.value("Total") == "900,00 TL" and out.cut_last


def test_prints_survive_as_records(setup):
    job = setup.prints.receipt("tx-1", "auto:tx-1")
    again = setup.prints.get(job.id)
    assert replace(again) == job and setup.prints.of_tx("tx-1") == job


@pytest.mark.parametrize(("asked", "flag"), [("1", True), ("0", False), ("", False)])
def test_the_kiosk_browser_launcher_prints_silently_when_asked(tmp_path, asked, flag):
    """docs/deploy/kiosk-browser.sh with KIOSK_PRINTING=1 adds Chromium's --kiosk-printing (a
    stand-in chromium on the PATH prints the arguments it got)."""
    import os
    import subprocess
    from pathlib import Path

    fake = tmp_path / "chromium"
    fake.write_text('#!/bin/sh\nfor a in "$@"; do echo "$a"; done\n')
    fake.chmod(0o755)
    script = Path(__file__).resolve().parents[1] / "docs" / "deploy" / "kiosk-browser.sh"
    env = {**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}", "KIOSK_PRINTING": asked}
    run = subprocess.run(["sh", str(script)], env=env, capture_output=True, text=True, check=True)
    args = run.stdout.split()
    assert ("--kiosk-printing" in args) is flag
    assert "--kiosk" in args and args[-1] != ""
