"""A receipt as plain data, and its layout in rows for 58 mm (32 columns) and 80 mm (48 columns)
paper. Built from the ledger's row of a checkout, in the language the customer chose. No Flask:
the job consumer prints without a request."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from babel.numbers import format_decimal, get_currency_precision, get_currency_symbol
from babel.support import NullTranslations, Translations

from ..checkout import coins
from ..checkout.inputs import N_
from ..i18n import TRANSLATIONS_DIR

COLUMNS = (32, 48)  # 58 mm and 80 mm paper, font A
RTL = frozenset({"ar", "fa", "he", "ur"})  # printed as an image: text mode garbles them
# The locale Babel formats each language's numbers and dates in.
BABEL_LOCALES = {"tr": "tr_TR", "en": "en_GB"}

STATUS_WORDS = {
    "paid": N_("Paid"), "partly_paid": N_("Partly paid"), "partial": N_("Partial payment, then ended"),
    "waiting": N_("Waiting"), "pending": N_("Waiting"), "cancelled": N_("Cancelled"),
    "expired": N_("Expired"), "see_cashier": N_("Needs a check"),
}


@dataclass(frozen=True)
class Shop:
    name: str
    address: tuple[str, ...] = ()
    tax_number: str | None = None
    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("Europe/Istanbul"))


@dataclass(frozen=True)
class Item:
    name: str
    quantity: int
    unit_amount: Decimal


@dataclass(frozen=True)
class Receipt:
    """Everything a receipt prints. `tip` is 0 when there is none; `total` is amount plus tip."""

    shop: Shop
    moment: datetime
    checkout_ref: str
    upstream_ref: str
    tx_id: str
    amount: Decimal
    tip: Decimal
    currency: str
    coin: str
    network: str
    coin_amount: Decimal
    rate: Decimal | None
    address: str
    status: str
    language: str
    copy: bool = False
    items: tuple[Item, ...] = ()

    @property
    def total(self) -> Decimal:
        return self.amount + self.tip

    @property
    def rtl(self) -> bool:
        return self.language.split("_")[0] in RTL


def money_digits(currency: str) -> Decimal:
    return Decimal(1).scaleb(-get_currency_precision(currency))


def rounded(amount: Decimal, currency: str) -> Decimal:
    """Half up to the currency's digits, in code: Babel only formats."""
    return amount.quantize(money_digits(currency), ROUND_HALF_UP)


def from_sale(sale: Any, shop: Shop, *, language: str, copy: bool, currency: str | None = None) -> Receipt:
    """The receipt of a ledger row (kiosk.ledger.Sale). A tip column, once the ledger has one,
    is read; until then the tip is 0."""
    cur = currency or sale.currency or "TRY"
    amount = rounded(Decimal(sale.amount), cur)
    tip = rounded(Decimal(getattr(sale, "tip", None) or 0), cur)
    coin_amount = Decimal(sale.received or 0)
    if coin_amount <= 0 and sale.coin_amount is not None:
        coin_amount = Decimal(sale.coin_amount)
    rate = None
    if sale.coin_amount and Decimal(sale.coin_amount) > 0:
        try:
            rate = rounded(amount / Decimal(sale.coin_amount), cur)
        except InvalidOperation:
            rate = None
    moment = sale.paid_at or sale.closed_at or sale.created_at
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    items = tuple(Item(str(ln["name"]), int(ln["quantity"]), Decimal(str(ln["unit_amount"])))
                  for ln in (sale.lines or ()))
    return Receipt(
        shop=shop, moment=moment,
        checkout_ref=sale.reference or sale.kiosk_ref or sale.order_id or sale.tx_id or "",
        upstream_ref=f"#{sale.sequence_id}" if sale.sequence_id else "", tx_id=sale.tx_id or "",
        amount=amount, tip=tip, currency=cur, coin=sale.coin or "", network=sale.network or "",
        coin_amount=coins.received(coin_amount, sale.coin or "", sale.network or ""), rate=rate,
        address=sale.address or "", status=sale.status, language=language, copy=copy, items=items,
    )


# -- rows --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One row of a printed receipt. `kind`: pair (label at the start, value at the end), center,
    text, rule (a line across), gap (an empty row). `strong`: bold (and tall, for the shop)."""

    kind: str
    left: str = ""
    right: str = ""
    strong: bool = False

    def __post_init__(self) -> None:
        # A till's reference or note, a shop's name: text, never a printer command.
        object.__setattr__(self, "left", printable_text(self.left))
        object.__setattr__(self, "right", printable_text(self.right))


_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f]")  # C0 (ESC, GS, LF...), DEL and C1 (CSI...)


def printable_text(text: str) -> str:
    """`text` without control characters: a tab or line break becomes a space, the rest go."""
    return _CONTROLS.sub(lambda m: " " if m.group() in "\t\n\r" else "", text)


def translations(language: str) -> NullTranslations:
    return Translations.load(str(TRANSLATIONS_DIR), [language.replace("-", "_")])


def short_address(address: str) -> str:
    return address if len(address) <= 16 else f"{address[:6]}...{address[-6:]}"


class Money:
    """Amounts as a receipt writes them, in the customer's language; the symbol where the
    printer can print it, the currency's code where it cannot."""

    def __init__(self, currency: str, language: str, printable: Any = None) -> None:
        self.currency = currency
        self.locale = BABEL_LOCALES.get(language, language)
        symbol = get_currency_symbol(currency, locale=self.locale)
        if currency == "TRY" and language == "tr":
            symbol = "TL"  # as Turkish receipts write it
        if printable is not None and not printable(symbol):
            symbol = currency
        self.symbol = symbol

    def __call__(self, amount: Decimal) -> str:
        number = format_decimal(rounded(amount, self.currency), _pattern(self.currency), locale=self.locale)
        return f"{number} {self.symbol}"


def _pattern(currency: str) -> str:
    digits = get_currency_precision(currency)
    return "#,##0" + ("." + "0" * digits if digits else "")


def rows(receipt: Receipt, printable: Any = None) -> list[Row]:
    """The receipt, top to bottom. `printable(text) -> bool` says whether the printer's code page
    holds a text (the currency symbol falls back to its code)."""
    t = translations(receipt.language)
    _ = t.gettext
    money = Money(receipt.currency, receipt.language, printable)
    locale = BABEL_LOCALES.get(receipt.language, receipt.language)
    when = format_datetime(receipt.moment, "dd.MM.yyyy HH:mm", tzinfo=receipt.shop.zone, locale=locale)
    out = [Row("center", receipt.shop.name, strong=True)]
    out += [Row("center", line) for line in receipt.shop.address]
    if receipt.shop.tax_number:
        out.append(Row("center", _("Tax number: %(number)s") % {"number": receipt.shop.tax_number}))
    out.append(Row("rule"))
    if receipt.copy:
        out.append(Row("center", _("COPY"), strong=True))
    out.append(Row("center", _("Payment receipt"), strong=True))
    out.append(Row("pair", _("Date"), when))
    out.append(Row("pair", _("Reference"), receipt.checkout_ref))
    if receipt.upstream_ref:
        out.append(Row("pair", _("Cryptom Pay"), receipt.upstream_ref))
    out.append(Row("pair", _("Transaction"), receipt.tx_id))
    if receipt.items:
        out.append(Row("rule"))
        for item in receipt.items:
            out.append(Row("text", item.name))
            out.append(Row("pair", f"  {item.quantity} x {money(item.unit_amount)}",
                           money(item.unit_amount * item.quantity)))
    out.append(Row("rule"))
    out.append(Row("pair", _("Amount"), money(receipt.amount)))
    out.append(Row("pair", _("Tip"), money(receipt.tip)))
    out.append(Row("pair", _("Total"), money(receipt.total), strong=True))
    out.append(Row("rule"))
    pair = receipt.coin if receipt.coin == receipt.network else f"{receipt.coin} ({receipt.network})"
    out.append(Row("pair", _("Coin"), pair))
    out.append(Row("pair", _("Paid"), f"{coins.wallet_text(receipt.coin_amount)} {receipt.coin}"))
    if receipt.rate is not None:
        out.append(Row("pair", _("Rate"), f"1 {receipt.coin} = {money(receipt.rate)}"))
    out.append(Row("pair", _("Wallet address"), short_address(receipt.address)))
    out.append(Row("pair", _("Status"), _(STATUS_WORDS.get(receipt.status, receipt.status))))
    out.append(Row("rule"))
    out.append(Row("center", _("Paid with Cryptom Pay")))
    return out


def text_lines(items: list[Row], columns: int) -> list[tuple[str, Row]]:
    """Rows as lines of exactly `columns` characters or fewer (a pair whose value does not fit
    beside its label puts the value on a line of its own, at the end)."""
    out: list[tuple[str, Row]] = []
    for row in items:
        if row.kind == "rule":
            out.append(("-" * columns, row))
        elif row.kind == "gap":
            out.append(("", row))
        elif row.kind == "center":
            out += [(line.center(columns).rstrip(), row) for line in _wrap(row.left, columns)]
        elif row.kind == "text":
            out += [(line, row) for line in _wrap(row.left, columns)]
        else:
            label, value = row.left, row.right
            if len(label) + 1 + len(value) <= columns:
                out.append((label + value.rjust(columns - len(label)), row))
            else:
                out += [(line, row) for line in _wrap(label, columns)]
                out += [(line.rjust(columns), row) for line in _wrap(value, columns)]
    return out


def _wrap(text: str, columns: int) -> list[str]:
    """Words to lines of at most `columns`; a word longer than a line is cut."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        while len(word) > columns:
            if current:
                lines.append(current)
                current = ""
            lines.append(word[:columns])
            word = word[columns:]
        if not current:
            current = word
        elif len(current) + 1 + len(word) <= columns:
            current += " " + word
        else:
            lines.append(current)
            current = word
    if current or not lines:
        lines.append(current)
    return lines
