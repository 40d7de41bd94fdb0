"""How money and addresses read on screen, per locale (Babel). Decimal in, text out."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from babel.numbers import format_decimal
from flask_babel import format_date, format_datetime, format_time, get_locale
from flask_babel import gettext as _

from .. import money
from ..checkout import coins
from ..checkout.start import clean_note
from ..cryptom import Status, Transaction
from ..printing.sources import SOURCE_WORDS
from ..references import sale_reference as sale_reference  # the screens' and the logs' one reference

LOCALES = money.FORMAT_LOCALES


def fiat(amount: Decimal, locale: str, currency: str) -> str:
    """An amount of the shop's money as the customer reads it: rounded here, half up, to the
    currency's digits, then written by Babel (₺1.234,50 in Turkish, 1.234,50 € in German, ¥123)."""
    return money.display(Decimal(amount), currency, locale)


def price_per_coin(tx: Transaction) -> Decimal | None:
    """The shop's money per coin for a receipt, to the currency's digits; None where upstream's
    amounts give no sensible rate (no coins, a negative amount, more digits than a rate can have)."""
    if tx.coin_amount <= 0 or tx.currency_amount <= 0 or not money.is_known(tx.currency.upper()):
        return None
    try:
        # In the default context, so a rate with more digits than a number on screen can hold
        # raises here, and is left out.
        return (tx.currency_amount / tx.coin_amount).quantize(money.step(tx.currency.upper()),
                                                               rounding=ROUND_HALF_UP)
    except InvalidOperation:
        return None


def coin_due(amount: Decimal | str, coin: str, network: str) -> str:
    """An amount to send (asked, still due), as a wallet takes it: rounded up to the coin's
    decimals, so sending what is shown pays. The same notation in every language."""
    return coins.wallet_text(coins.due(Decimal(amount), coin, network))


def coin_received(amount: Decimal | str, coin: str, network: str) -> str:
    """An amount that arrived: rounded down to the coin's decimals, never more than counted."""
    return coins.wallet_text(coins.received(Decimal(amount), coin, network))


def network_name(coin: str, network: str) -> str:
    return coins.network_name(coin, network)


def customer_note(note: str | None) -> str | None:
    """A transaction's note as the customer or the till gave it: without the kiosk's marker."""
    return clean_note(note)


def rate(amount: Decimal, locale: str = "tr") -> str:
    """A price as upstream sent it, every digit, in the locale's notation."""
    return format_decimal(
        amount, "#,##0.######", locale=LOCALES.get(locale, locale), decimal_quantization=False
    )


def grouped(address: str, size: int = 4) -> list[str]:
    """A wallet address in groups of four, easier to compare character by character."""
    return [address[i : i + size] for i in range(0, len(address), size)]


def tx_state(tx: Transaction) -> str:
    """A transaction in one word for the operator's tables; isTransferComplete decides paid."""
    if tx.is_paid:
        return "paid"
    if tx.status in (Status.CANCELLED, Status.TIMEOUT):
        return "attention" if tx.total_transfer_amount > 0 else tx.status.value.lower()
    if tx.status in (Status.PENDING, Status.TRANSFERRED):
        return "partial" if tx.is_partial else "waiting"
    return "other"


def tx_state_label(tx: Transaction) -> str:
    return {
        "paid": _("Paid"),
        "partial": _("Partly paid"),
        "waiting": _("Waiting"),
        "cancelled": _("Cancelled"),
        "timeout": _("Timed out"),
        "attention": _("Partial, ended"),
        "other": tx.status_raw or _("Unknown"),
    }[tx_state(tx)]


def status_label(status: str) -> str:
    """A checkout's status word (the till API's) as staff read it."""
    return {
        "pending": _("On the display: the customer chooses a coin"),
        "waiting": _("Waiting for the payment"),
        "partly_paid": _("Partly paid"),
        "paid": _("Paid"),
        "cancelled": _("Cancelled"),
        "expired": _("Expired"),
        "partial": _("Partial payment, then ended"),
        "see_cashier": _("Needs a check"),
    }.get(status, status)


def source_label(source: str) -> str:
    """Where a sale came from (the export's `source` word) as staff read it, as the printed
    report says it."""
    return _(SOURCE_WORDS[source]) if source in SOURCE_WORDS else source


# The operator area's dates, day first in both staff languages.
STAFF_DATES = {"tr": "dd.MM.yyyy", "en": "dd/MM/yyyy"}


def staff_date(day: date | None) -> str:
    """A date as staff write it: 07.12.2026 in Turkish, 07/12/2026 in English."""
    if day is None:
        return ""
    return format_date(day, STAFF_DATES.get(str(get_locale()), STAFF_DATES["en"]))


# One way to read a date in each language: Turkish as dd.MM.yyyy, English with the month by name
# (12/7/26 is 7 December to the shop and 12 July to a visitor). The time is joined to the date
# by a no-break space, so a line never splits it. Another language: Babel's medium format.
DATE_TIME = {"tr": "dd.MM.yyyy\u00a0HH:mm", "en": "d MMM yyyy,\u00a0HH:mm"}


def local_time(moment: datetime | None) -> str:
    if not moment:
        return "–"
    locale = get_locale()
    return format_datetime(moment, DATE_TIME.get(locale.language if locale else "", "medium"))


def epoch_clock(seconds: float | None) -> str:
    """The time of day alone (a list of today's), in the shop's time zone."""
    return format_time(datetime.fromtimestamp(float(seconds), UTC), "HH:mm") if seconds else "–"


def epoch_time(seconds: float | None) -> str:
    return local_time(datetime.fromtimestamp(float(seconds), UTC)) if seconds else "–"
