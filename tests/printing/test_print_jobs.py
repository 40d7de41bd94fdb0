"""Print jobs against a real TCP listener where the printer would be, a real store and a real
ledger, with a settable clock: once per request, copies marked, a printer that is off tried again
with back-off until it answers and given up at the end of its window, out of paper, a lost job
swept up, a display's own printer, the hook the X and Z reports print through."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from kiosk.checkout import LocalStore
from kiosk.ledger import Entry, Ledger, make_engine
from kiosk.printing import printers
from kiosk.printing.address import parse
from kiosk.printing.jobs import Prints, Retry, TooMany, print_due
from kiosk.printing.receipt import Shop

from .printer import PrinterListener

SHOP = Shop("Güneş Kafe", ("İstiklal Cad. 12",), "1234567890", ZoneInfo("Europe/Istanbul"))


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


class Queue:
    """What the print service asks the job queue (its `print_due` signal), run by hand: the
    jobs due by the clock's time."""

    def __init__(self, prints: Prints, clock: Clock) -> None:
        self.due: list[tuple[str, float]] = []
        self.prints = prints
        self.clock = clock
        print_due.connect(self.asked, sender=prints)

    def asked(self, sender, *, print_id: str, at: float) -> None:
        self.due.append((print_id, at))

    def run(self) -> int:
        now = [job for job in self.due if job[1] <= self.clock()]
        self.due = [job for job in self.due if job[1] > self.clock()]
        for print_id, _at in now:
            self.prints.run(print_id)
        return len(now)

    def flush(self) -> None:
        self.due = []


@pytest.fixture
def setup(tmp_path, printer):
    """A print service over a real store, a real ledger with one paid sale, its queue run by
    hand, a settable clock, and the listener as the shop's printer."""
    clock = Clock()
    store = LocalStore(tmp_path / "kiosk.sqlite3")
    ledger = Ledger(make_engine(f"sqlite:///{tmp_path / 'ledger.sqlite3'}"), clock=clock)
    ledger.record(Entry(at=clock.at, tx_id="tx-1", status="paid", amount=Decimal("300.00"), currency="TRY",
                        coin="TRX", network="TRX", coin_amount=Decimal("24"), received=Decimal("24"),
                        created=clock.at - 60, sequence_id=7, started_by_kind="kiosk", kiosk_ref="ref-1"))
    prints = Prints(store, ledger, shop=SHOP, printer=parse(printer.url, 32), default_language="tr",
                    retry=Retry(2.0, 8.0, 60.0), clock=clock)
    return SimpleNamespace(clock=clock, store=store, ledger=ledger, queue=Queue(prints, clock), prints=prints)


def test_one_request_makes_one_printout_however_often_it_is_asked(setup, printer):
    first = setup.prints.receipt("tx-1", "tap:aaaa")
    again = setup.prints.receipt("tx-1", "tap:aaaa")
    assert again.id == first.id
    assert setup.queue.run() == 1
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
    setup.queue.run()
    outs = printer.wait_for(2)
    assert sorted("KOPYA" in out.text for out in outs) == [False, True]


def test_a_printer_that_is_off_gets_the_print_once_it_is_back(setup, printer):
    printer.down()
    job = setup.prints.receipt("tx-1", "auto:tx-1")
    setup.queue.run()
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
    setup.queue.run()
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
    setup.queue.run()
    assert setup.prints.get(job.id).error == "out of paper" and printer.printouts() == []
    printer.paper_out = False
    setup.clock.at += 2
    setup.prints.run(job.id)
    assert len(printer.wait_for(1)) == 1


def test_the_sweep_queues_a_print_whose_job_was_lost(setup, printer):
    job = setup.prints.receipt("tx-1", "auto:tx-1")
    setup.queue.flush()  # the host died with the job
    assert setup.prints.sweep(lag=15) == 0  # not overdue yet
    setup.clock.at += 16
    assert setup.prints.sweep(lag=15) == 1
    setup.queue.run()
    assert len(printer.wait_for(1)) == 1 and setup.prints.get(job.id).state == "printed"


def test_a_sale_the_ledger_has_not_heard_of_waits_without_blaming_the_printer(setup, printer):
    job = setup.prints.receipt("tx-unknown", "auto:tx-unknown")
    setup.queue.run()
    assert setup.prints.get(job.id).state == "waiting" and printer.printouts() == []
    assert setup.prints.printer_down(job.printer) is None


def test_a_receipt_waits_until_the_ledger_has_the_sale_paid(setup, printer):
    """The ledger was away when the payment completed: its row still says waiting."""
    setup.ledger.record(Entry(at=setup.clock.at, tx_id="tx-2", status="waiting", amount=Decimal("50.00"),
                              currency="TRY", coin="TRX", network="TRX", created=setup.clock.at - 60,
                              started_by_kind="kiosk"))
    job = setup.prints.receipt("tx-2", "auto:tx-2")
    setup.queue.run()
    assert setup.prints.get(job.id).state == "waiting" and printer.printouts() == []
    setup.ledger.record(Entry(at=setup.clock.at + 1, tx_id="tx-2", status="paid", received=Decimal("4")))
    setup.clock.at += 2
    setup.queue.run()
    out = printer.wait_for(1)[0]
    assert out.value("Durum") == "Ödendi" and out.value("Tutar") == "50,00 TL"


def test_a_receipt_that_cannot_be_made_is_retried_and_given_up_without_blaming_the_printer(
        setup, printer, monkeypatch):
    """A right-to-left receipt on a server without a font for it."""
    from kiosk.printing import raster

    monkeypatch.setattr(raster, "FONTS", ())
    monkeypatch.setattr(raster, "BOLD_FONTS", ())
    raster.font.cache_clear()
    setup.prints.note_language("tx-1", "ar")
    job = setup.prints.receipt("tx-1", "auto:tx-1")
    setup.queue.run()
    assert setup.prints.get(job.id).error == "NoFont" and setup.prints.get(job.id).tries == 1
    assert setup.prints.printer_down(job.printer) is None and printer.printouts() == []
    setup.clock.at = job.created + 60
    setup.prints.run(job.id)
    assert setup.prints.get(job.id).state == "failed"
    raster.font.cache_clear()


def test_a_display_with_its_own_printer_prints_there(setup, printer):
    own = PrinterListener()
    try:
        printers.set_for_display(setup.store, "disp1", own.url, "48")
        setup.prints.receipt("tx-1", "auto:tx-1", display_id="disp1")
        setup.queue.run()
        out = own.wait_for(1)[0]
        assert max(len(line) for line in out.lines) == 48
        assert printer.printouts() == []
    finally:
        own.down()


def test_a_sale_prints_at_most_twenty_times(setup, printer):
    for n in range(20):
        setup.prints.receipt("tx-1", f"tap:{n}")
    with pytest.raises(TooMany):
        setup.prints.receipt("tx-1", "tap:21")


def test_a_document_prints_through_the_same_job(setup, printer):
    """The hook the X and Z reports print through."""
    setup.prints.document("z:2026-12-07", "Z report", [("Payments", "3"), ("Total", "900,00 TL")])
    setup.queue.run()
    out = printer.wait_for(1)[0]
    assert out.lines[0].strip() == "Z report" and out.value("Total") == "900,00 TL" and out.cut_last


def test_prints_survive_as_records(setup):
    job = setup.prints.receipt("tx-1", "auto:tx-1")
    again = setup.prints.get(job.id)
    assert replace(again) == job and setup.prints.of_tx("tx-1") == job


