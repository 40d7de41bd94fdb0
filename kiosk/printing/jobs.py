"""Print jobs: a print is a job on the kiosk's queue, never lost and never doubled.

- One request makes at most one printout: each request has a key (`auto:<tx>` for the print on
  paid, the form's one-time token for a tap), and a guard in the shared store lets the first
  taker of a key make the print, on whichever host, however often it is tapped.
- The print is a record in the store (`print:<id>`, state waiting, printed or failed) and an
  entry in the `prints` index by the time it is next due; `print_due` announces when, and the
  queue (kiosk.jobs) runs the `print` job then, which calls `run`. A printer that
  does not take it is tried again later, waiting longer each time (KIOSK_PRINT_RETRY), until the
  retry window has passed: then the print failed and the operator sees it. The watcher's sweep
  queues again a print whose job was lost (a host died with it).
- A lease per print keeps two consumers from sending it at once.
- The first print of a checkout is the original; every later one is marked as a copy.
- A printer that failed is noted (`printer-down:<url>`) until it takes a job again: the
  customer's screen says the receipt will print when it is back, the operator sees it.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Callable
from typing import Any

from blinker import Signal

from ..checkout.base import Change
from ..checkout.record import RECORD_TTL, UNREADABLE
from ..checkout.store import Store
from ..clock import now as clock_now
from . import commands
from .printers import Printer, PrinterDown, of_display, send
from .receipt import Shop, from_sale, translations
from .record import BrowserPrint, NoPrinter, NotReady, Print, Retry, TooMany

log = logging.getLogger("kiosk.printing")

print_due = Signal("print due")  # sender: the Prints; print_id, at: when to send it

INDEX = "prints"  # waiting prints, by the time each is next due
FAILED = "prints-failed"  # prints that gave up, by when: the operator's attention items
LEASE = 60.0
SHOW_FAILED = 24 * 3600.0


__all__ = ["BrowserPrint", "NoPrinter", "NotReady", "Print", "Prints", "Retry", "TooMany", "print_due"]

MAX_PER_SALE = 20  # prints of one sale, at most: a playful finger does not empty the roll


class Prints:
    """The prints of one process: the web workers and the followers ask for them, the consumer
    sends them (`run`). `ledger`: the sales ledger (the receipt is made from the checkout's row)."""

    def __init__(self, store: Store, ledger: Any, *, shop: Shop, printer: Printer | None,
                 mode: str = "off", default_language: str = "tr", currency: str = "TRY",
                 retry: Retry | None = None, clock: Callable[[], float] = clock_now) -> None:
        self.store = store
        self.ledger = ledger
        self.shop = shop
        self.printer = printer
        self.mode = mode
        self.default_language = default_language
        self.currency = currency
        self.retry = retry or Retry()
        self.clock = clock
        self.send: Callable[[Printer, bytes], None] = send

    # -- asking for a print ------------------------------------------------------------------

    def printer_for(self, display_id: str | None) -> Printer | None:
        """A display's own printer, else the shop's."""
        return of_display(self.store, display_id) or self.printer

    def note_language(self, tx_id: str, language: str) -> None:
        """The language the customer chose for this checkout: its receipt speaks it."""
        self.store.set(f"receipt-lang:{tx_id}", language, ttl=RECORD_TTL)

    def language_of(self, tx_id: str) -> str:
        return self.store.get(f"receipt-lang:{tx_id}") or self.default_language

    def receipt(self, tx_id: str, key: str, display_id: str | None = None) -> Print:
        """Print this checkout's receipt, once for this key. Raises NoPrinter."""
        printer = self.printer_for(display_id)
        if printer is None:
            raise NoPrinter(tx_id)
        made = Print(secrets.token_hex(8), "receipt", key, printer, self.clock(), tx=tx_id,
                     language=self.language_of(tx_id))
        return self._request(made)

    def document(self, key: str, title: str, lines: list[tuple[str, str]], *, language: str | None = None,
                 display_id: str | None = None, of: str | None = None) -> Print:
        """Print any document of label/value lines, once for this key: the hook the X and Z
        reports print through. `of`: what it prints (a Z report, `z:<n>`), counted as a sale's
        receipt is: its first print the original, every later one marked as a copy, at most
        MAX_PER_SALE. Raises NoPrinter and TooMany."""
        printer = self.printer_for(display_id)
        if printer is None:
            raise NoPrinter(key)
        made = Print(secrets.token_hex(8), "document", key, printer, self.clock(), tx=of,
                     language=language or self.default_language,
                     document={"title": title, "lines": [[a, b] for a, b in lines]})
        return self._request(made)

    def browser_print(self, tx_id: str, key: str) -> BrowserPrint:
        """A receipt page that prints itself (KIOSK_AUTO_PRINT=browser): once per key, the first
        of a sale the original, every later one a copy (the same rule as the printer's)."""
        if self._spent(tx_id):  # past the limit a request writes nothing, whatever its key
            return BrowserPrint(first=False, copy=True)
        if not self.store.add(f"print-key:browser:{tx_id}:{key}", "browser", ttl=RECORD_TTL):
            return BrowserPrint(first=False, copy=True)
        if self.store.incr(f"print-count:{tx_id}", ttl=RECORD_TTL) > MAX_PER_SALE:
            return BrowserPrint(first=False, copy=True)
        copy = not self.store.add(f"print-first:{tx_id}", "browser", ttl=RECORD_TTL)
        return BrowserPrint(first=True, copy=copy)

    def _spent(self, tx_id: str) -> bool:
        """Whether this sale has printed its MAX_PER_SALE: read before any write, so a stranger's
        fresh keys past the limit leave nothing behind (the count after the key stays the guard
        against taps racing)."""
        return int(self.store.get(f"print-count:{tx_id}") or 0) >= MAX_PER_SALE

    def _request(self, made: Print) -> Print:
        if made.tx is not None and self._spent(made.tx):
            known = self.get(self.store.get(f"print-key:{made.key}"))
            if known is None:
                raise TooMany(made.tx)
            return known  # the same request again: its print, as before the limit
        # The record first, then the key's guard: whoever finds the key taken finds the record
        # of the one that took it.
        made.due = made.created
        self._save(made)
        if not self.store.add(f"print-key:{made.key}", made.id, ttl=RECORD_TTL):
            self.store.delete(f"print:{made.id}")
            known = self.get(self.store.get(f"print-key:{made.key}"))
            return known if known is not None else made
        if made.tx is not None:
            if self.store.incr(f"print-count:{made.tx}", ttl=RECORD_TTL) > MAX_PER_SALE:
                self.store.delete(f"print:{made.id}")
                raise TooMany(made.tx)
            made.copy = not self.store.add(f"print-first:{made.tx}", made.id, ttl=RECORD_TTL)
            self.store.set(f"print-last:{made.tx}", made.id, ttl=RECORD_TTL)
            self._save(made)
        self.store.schedule(INDEX, made.id, made.due)
        log.info("print %s queued (%s%s) for %s", made.id, made.kind, ", a copy" if made.copy else "",
                 made.printer.url, extra={"event": "print.queued", "tx": made.tx})
        self._queue(made.id, made.due)
        return made

    def _queue(self, print_id: str, at: float) -> None:
        try:
            print_due.send(self, print_id=print_id, at=at)
        except Exception:  # the sweep queues it again: a queue hiccup never loses a print
            log.warning("could not queue print %s; the next sweep will", print_id, exc_info=True)

    # -- the job -----------------------------------------------------------------------------

    def run(self, print_id: str) -> None:
        lease = f"print-lease:{print_id}"
        if not self.store.add(lease, "1", ttl=LEASE):
            return  # another consumer is sending it now
        try:
            job = self.get(print_id)
            if job is None or job.state != "waiting" or job.due > self.clock() + 0.5:
                return  # done, or not due yet: the job queued for its time sends it
            try:
                data = self.render(job)
                self.send(job.printer, data)
            except (PrinterDown, NotReady) as exc:
                self._again(job, str(exc) or type(exc).__name__, down=isinstance(exc, PrinterDown))
                return
            except Exception as exc:  # a receipt that cannot be made (no font, say): retried the same way
                log.exception("print %s could not be made", job.id)
                self._again(job, type(exc).__name__, down=False)
                return
            job.state, job.printed_at, job.error = "printed", self.clock(), None
            job.tries += 1
            self._save(job)
            self.store.unschedule(INDEX, job.id)
            self.store.delete(f"printer-down:{job.printer.url}")
            log.info("print %s printed on %s", job.id, job.printer.url,
                     extra={"event": "print.printed", "tx": job.tx})
        finally:
            self.store.delete(lease)

    def render(self, job: Print) -> bytes:
        if job.kind == "document":
            lines = [(str(a), str(b)) for a, b in job.document.get("lines", [])]
            mark = translations(job.language).gettext("COPY") if job.copy else None
            return commands.lines_bytes(str(job.document.get("title", "")), lines, job.printer.columns,
                                        job.language, mark=mark)
        sale = self.ledger.get(tx_id=job.tx)
        if sale is None or sale.status != "paid":
            # Only a paid sale has a receipt; a ledger that was away writes "paid" a little later.
            raise NotReady("the ledger has no paid row of this sale yet")
        receipt = from_sale(sale, self.shop, language=job.language, copy=job.copy,
                            currency=sale.currency or self.currency)
        return commands.receipt_bytes(receipt, job.printer.columns)

    def _again(self, job: Print, error: str, down: bool) -> None:
        job.tries += 1
        job.error = error
        moment = self.clock()
        if down:
            self._note_down(job.printer, error, moment)
        if moment - job.created >= self.retry.window:
            job.state = "failed"
            self._save(job)
            self.store.unschedule(INDEX, job.id)
            self.store.schedule(FAILED, job.id, moment)
            for old, failed_at in self.store.scheduled(FAILED, moment - SHOW_FAILED):
                if failed_at < moment - SHOW_FAILED:  # shown for a day (attention), then not kept
                    self.store.unschedule(FAILED, old)
            log.warning("print %s gave up after %d tries: %s", job.id, job.tries, error,
                        extra={"event": "print.failed", "tx": job.tx})
            return
        job.due = min(moment + self.retry.after(job.tries), job.created + self.retry.window)
        self._save(job)
        self.store.schedule(INDEX, job.id, job.due)
        log.info("print %s not taken (%s); again in %.0f s", job.id, error, job.due - moment,
                 extra={"event": "print.retry", "tx": job.tx})
        self._queue(job.id, job.due)

    def _note_down(self, printer: Printer, error: str, moment: float) -> None:
        key = f"printer-down:{printer.url}"
        since = moment
        old = self.store.get(key)
        if old:
            try:
                since = float(json.loads(old)["since"])
            except (*UNREADABLE,):
                pass
        self.store.set(key, json.dumps({"url": printer.url, "since": since, "at": moment, "error": error}),
                       ttl=2 * self.retry.window)

    def sweep(self, lag: float) -> int:
        """Prints whose job was lost (a host died with it) are queued again (the watcher's sweep)."""
        lost = 0
        for print_id, due in self.store.scheduled(INDEX, self.clock() - lag):
            self._queue(print_id, max(due, self.clock()))
            lost += 1
        return lost

    # -- reading -----------------------------------------------------------------------------

    def get(self, print_id: str | None) -> Print | None:
        text = self.store.get(f"print:{print_id}") if print_id else None
        if not text:
            return None
        try:
            return Print.loads(text)
        except (*UNREADABLE,):
            return None

    def _save(self, job: Print) -> None:
        self.store.set(f"print:{job.id}", job.dumps(), ttl=RECORD_TTL)

    def of_tx(self, tx_id: str) -> Print | None:
        """The latest print of a checkout."""
        return self.get(self.store.get(f"print-last:{tx_id}"))

    def printer_down(self, printer: Printer | None) -> dict[str, Any] | None:
        if printer is None:
            return None
        text = self.store.get(f"printer-down:{printer.url}")
        return json.loads(text) if text else None

    def attention(self) -> tuple[list[Print], list[dict[str, Any]], list[Print]]:
        """For the operator: prints waiting, printers not answering, prints that gave up lately."""
        waiting = [p for p in (self.get(i) for i, _ in self.store.scheduled(INDEX, float("inf")))
                   if p is not None and p.state == "waiting"]
        down = sorted((json.loads(v) for _k, v in self.store.items("printer-down:")), key=lambda d: d["url"])
        failed = [p for p in (self.get(i) for i, _ in self.store.scheduled(
            FAILED, float("inf"), low=self.clock() - SHOW_FAILED)) if p is not None and p.state == "failed"]
        return waiting, down, failed

    def dismiss(self, print_id: str) -> None:
        self.store.unschedule(FAILED, print_id)

    # -- the checkout's follower: a receipt on paid -----------------------------------------

    def changed(self, change: Change) -> None:
        if self.mode != "printer" or change.event != "paid":
            return
        try:
            self.receipt(change.record.tx_id, f"auto:{change.record.tx_id}", change.record.display)
        except NoPrinter:
            log.warning("KIOSK_AUTO_PRINT=printer, but no printer is set for this sale")

    def flagged(self, tx_id: str, kind: str, at: float) -> None:
        return None
