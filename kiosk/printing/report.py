"""An X or Z report on the receipt printer: its number, period and per-currency figures
(kiosk.reports.figures) as the label/value lines of a printed document, in the operator's
language. The layout to 32 or 48 columns is the receipt's (receipt.text_lines). No Flask."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from babel.dates import format_datetime

from ..checkout import coins
from .commands import FALLBACK_PAGES, code_page, printable_in
from .receipt import BABEL_LOCALES, STATUS_WORDS, Money, Shop, translations
from .sources import SOURCE_WORDS

Lines = list[tuple[str, str]]


def _when(moment: datetime | None, shop: Shop, language: str) -> str:
    if moment is None:
        return "-"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return format_datetime(moment, "dd.MM.yyyy HH:mm", tzinfo=shop.zone,
                           locale=BABEL_LOCALES.get(language, language))


def document(report: Any, *, closed: bool, shop: Shop, language: str) -> tuple[str, Lines]:
    """The title and lines of `report` (a kiosk.reports.ZSummary): a Z report when `closed`,
    else the X report (what the next Z report would say now)."""
    _ = translations(language).gettext
    # A currency's sign only where every code page the report may print in holds it (the page is
    # chosen for the names it carries), else its code.
    pages = [printable_in(page) for page in (code_page(language), *FALLBACK_PAGES)]

    def printable(text: str) -> bool:
        return all(holds(text) for holds in pages)

    title = (_("Z report %(number)d") if closed else _("X report")) % {"number": report.number}
    lines: Lines = [(shop.name, "")]
    if not closed:
        lines.append((_("Next Z report"), str(report.number)))
    lines.append((_("From"), _when(report.opened_at, shop, language) if report.opened_at
                  else _("the first sale")))
    lines.append((_("To"), _when(report.made_at, shop, language)))
    if closed and report.made_by:
        lines.append((_("Closed on"), report.made_by))
    f = report.figures
    blocks = [f, *(f.get("others") or [])]
    for block in blocks:
        lines += _block(block, blocks, Money(block["currency"], language, printable), _)
    lines += [("", ""), (_("Late adjustments"), str(len(f.get("late") or [])))]
    for late in f.get("late") or []:
        money = Money(late.get("currency") or f["currency"], language, printable)
        was = _(STATUS_WORDS.get(late["was"] or "", late["was"] or "-"))
        now = _(STATUS_WORDS.get(late["status"], late["status"]))
        lines.append((f"  {late['checkout_id']} {late.get('reference') or ''}", ""))
        lines.append((f"  {was} > {now}", money(Decimal(late["total"]))))
    lines.append((_("Sales that need attention"), str(f.get("attention", 0))))
    return title, lines


def _block(b: dict[str, Any], blocks: list[dict[str, Any]], money: Money,
           _: Callable[[str], str]) -> Lines:
    lines: Lines = [("", "")]
    if len(blocks) > 1:
        lines.append((_("Figures in %(currency)s") % {"currency": b["currency"]}, ""))
    lines.append((_("Paid"), money(Decimal(b["paid"]["total"]))))
    lines.append((_("Paid sales"), str(b["paid"]["count"])))
    lines.append((_("of which tips"), money(Decimal(b["tips"]))))
    lines.append((_("By status"), ""))
    lines += [(f"  {_(STATUS_WORDS.get(s['status'], s['status']))} ({s['count']})",
               money(Decimal(s["total"]))) for s in b["statuses"] if s["count"]]
    lines.append((_("Paid, by coin"), ""))
    for c in b["coins"]:
        lines.append((f"  {c['coin']} ({c['network']}) ({c['count']})", money(Decimal(c["total"]))))
        received = coins.wallet_text(coins.received(Decimal(c["received"]), c["coin"], c["network"]))
        lines.append((f"    {_('Received')}", f"{received} {c['coin']}"))
    lines.append((_("Paid, by source and display"), ""))
    for s in b["sources"]:
        where = _(SOURCE_WORDS.get(s["source"], s["source"])) + (f" / {s['display']}" if s["display"] else "")
        lines.append((f"  {where} ({s['count']})", money(Decimal(s["total"]))))
    lines.append((_("Paid, by cashier"), ""))
    lines += [(f"  {c['cashier']} ({c['count']})", money(Decimal(c["total"]))) for c in b["cashiers"]]
    if b.get("partial"):
        lines.append((_("Partial payments received"), ""))
        for c in b["partial"]:
            received = coins.wallet_text(coins.received(Decimal(c["received"]), c["coin"], c["network"]))
            lines.append((f"  {c['coin']} ({c['network']}) ({c['count']})", f"{received} {c['coin']}"))
    lines.append((_("Still open") + f" ({b['open']['count']})", money(Decimal(b["open"]["total"]))))
    return lines
