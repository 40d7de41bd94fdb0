"""How money and addresses read on screen, per locale (Babel). Decimal in, text out."""

from __future__ import annotations

from decimal import Decimal

from babel.numbers import format_decimal, get_decimal_symbol

LOCALES = {"tr": "tr_TR", "en": "en_GB"}
LIRA = "\u20ba"


def fiat(amount: Decimal, locale: str = "tr") -> str:
    """₺1.234,50 in Turkish, ₺1,234.50 in English (Babel's English default, TRY1,234.50, reads
    badly on a till)."""
    return LIRA + format_decimal(amount, "#,##0.00", locale=LOCALES.get(locale, locale))


def coin(amount: Decimal, locale: str = "tr") -> str:
    """Every digit upstream sent: the customer must send exactly this, so never round it."""
    return format_decimal(
        amount, "#,##0.######", locale=LOCALES.get(locale, locale), decimal_quantization=False
    )


def decimal_separator(locale: str = "tr") -> str:
    return get_decimal_symbol(LOCALES.get(locale, locale))


def grouped(address: str, size: int = 4) -> list[str]:
    """A wallet address in groups of four, easier to compare character by character."""
    return [address[i : i + size] for i in range(0, len(address), size)]
