"""The shop's currency: which codes exist, how many digits each has, amounts rounded to them.

Babel knows the currencies (ISO 4217, as CLDR lists them) and their digits: JPY has none, KWD
and BHD three, most two. Rounding is ours, with Decimal and half up; Babel would round half to
even ($0.125 as $0.12), so it is only ever given amounts already rounded, to format them.
"""

from __future__ import annotations

import re
import unicodedata
from decimal import ROUND_HALF_UP, Context, Decimal
from functools import cache

from babel.numbers import format_currency, get_currency_precision, get_currency_symbol, get_global

DEFAULT = "TRY"
# The languages a kiosk speaks, by their formatting locale (kiosk.i18n keeps the same list).
FORMAT_LOCALES = {"tr": "tr_TR", "en": "en_GB", "de": "de_DE", "ru": "ru_RU", "ar": "ar"}
_EXACT = Context(prec=60)
# Direction marks that Babel puts around Arabic numbers: right on a screen, never in a file or log.
_MARKS = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


@cache
def known() -> frozenset[str]:
    """Codes that are legal tender somewhere today (ISO 4217's active list, from CLDR)."""
    found = set()
    for currencies in get_global("territory_currencies").values():
        for code, _start, end, tender in currencies:
            if end is None and tender:
                found.add(code)
    return frozenset(found)


def is_known(code: str) -> bool:
    return code in known()


def digits(currency: str) -> int:
    """Decimals the currency is counted in: 0 for JPY, 3 for KWD and BHD, 2 for most."""
    return int(get_currency_precision(currency.upper()))


def step(currency: str) -> Decimal:
    """The smallest amount: 1 for JPY, 0.01 for EUR, 0.001 for KWD."""
    return Decimal(1).scaleb(-digits(currency))


def rounded(amount: Decimal, currency: str) -> Decimal:
    """`amount` to the currency's digits, half up: 0.125 USD is 0.13."""
    return Decimal(amount).quantize(step(currency), rounding=ROUND_HALF_UP, context=_EXACT)


def is_exact(amount: Decimal, currency: str) -> bool:
    """True when `amount` has no more decimals than the currency counts (12.50 EUR yes, 12.5 JPY no)."""
    return amount.is_finite() and amount == rounded(amount, currency)


def wire(amount: Decimal, currency: str) -> Decimal:
    """What upstream is sent: the amount to the currency's digits (300 -> 300.00 TRY, 300 JPY)."""
    return rounded(amount, currency)


# What `symbol` finds in CLDR for each currency of `known()` (tests/checkout/test_money.py holds
# the two equal): these have a sign, every other is written with its code. Kept here so a worker
# does not load the whole CLDR data of five languages (about 4 MB a process) for one sign.
SIGNS = {"EUR": "€", "GBP": "£", "ILS": "₪", "INR": "₹", "JPY": "¥", "KRW": "₩", "PHP": "₱", "RUB": "₽",
         "THB": "฿", "TRY": "₺", "UAH": "₴", "USD": "$", "VND": "₫"}


@cache
def symbol(currency: str) -> str:
    """One sign for the currency in every language the kiosk speaks: the shortest of their
    symbols without letters (₺, €, ¥, $), else the ISO code (KWD), which every customer reads."""
    if currency in known():
        return SIGNS.get(currency, currency)
    return cldr_symbol(currency)


def cldr_symbol(currency: str) -> str:
    """`symbol` as CLDR's data of each language gives it."""
    signs = [get_currency_symbol(currency, locale) for locale in FORMAT_LOCALES.values()]
    plain = [s for s in signs if not any(unicodedata.category(ch).startswith("L") for ch in s)]
    return min(plain, key=len) if plain else currency


def format_locale(language: str) -> str:
    return FORMAT_LOCALES.get(language, language)


def display(amount: Decimal, currency: str, language: str) -> str:
    """An amount as the customer reads it: rounded here, half up, then formatted by Babel in the
    language's pattern (₺1.234,50 in Turkish, 1.234,50 € in German, ¥123, KWD 1.250)."""
    sign = symbol(currency)
    text = format_currency(rounded(Decimal(amount), currency), currency, locale=format_locale(language),
                           currency_digits=True, decimal_quantization=True)
    babel_sign = get_currency_symbol(currency, format_locale(language))
    if babel_sign != sign:
        text = text.replace(babel_sign, sign, 1)
    if sign.isalpha():  # a code next to a digit reads badly (KWD1.250): a no-break space between
        text = re.sub(rf"{sign}(?=[\d\u200e\u200f])", f"{sign}\u00a0", text)
        text = re.sub(rf"(?<=\d){sign}", f"\u00a0{sign}", text)
    return text


def plain(text: str) -> str:
    """Formatted text without Babel's invisible direction marks: for a CSV, a log, a file."""
    return _MARKS.sub("", text)


def keypad_format(currency: str, language: str) -> dict[str, str]:
    """What the keypad's script needs to write an amount exactly as `display` does: the text
    before and after the number, the separators and the currency's digits."""
    sample = display(Decimal(1), currency, language)
    places = digits(currency)
    one = sample.index("1")  # Latin digits in every language the kiosk speaks
    prefix, rest = sample[:one], sample[one + 1:]
    decimal_sign = rest[0] if places else ""
    suffix = rest[1 + places:] if places else rest
    group = display(Decimal(1000), currency, language)
    grouping = group[len(prefix) + 1] if group[len(prefix) + 1] != "0" else ""
    return {"prefix": prefix, "suffix": suffix, "decimal": decimal_sign, "group": grouping,
            "digits": str(places)}
