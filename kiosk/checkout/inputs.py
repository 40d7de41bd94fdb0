"""Checking what the amount form sends. Anything can post it, so nothing is trusted."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

_AMOUNT = re.compile(r"[0-9]{1,9}(?:[.,][0-9]{1,2})?")
_MOBILE = re.compile(r"\+?[1-9][0-9]{9,14}")
NOTE_MAX = 120


class InputError(ValueError):
    """Bad input; the message is shown on the same screen. `{amount}` in it is filled in by
    the screen, formatted for the customer's locale."""

    def __init__(self, message: str, amount: Decimal | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.amount = amount


def parse_amount(raw: str | None, low: Decimal, high: Decimal) -> Decimal:
    text = (raw or "").strip()
    if not text:
        raise InputError("Enter an amount.")
    if not _AMOUNT.fullmatch(text):
        raise InputError("Enter the amount in lira, with at most two decimals.")
    try:
        amount = Decimal(text.replace(",", "."))
    except InvalidOperation:  # pragma: no cover - the pattern already refuses these
        raise InputError("Enter the amount in lira, with at most two decimals.") from None
    if amount <= 0:
        raise InputError("The amount must be more than zero.")
    if amount < low:
        raise InputError("The smallest amount is {amount}.", low)
    if amount > high:
        raise InputError("The largest amount is {amount}.", high)
    return amount.quantize(Decimal("0.01"))


def parse_mobile(raw: str | None) -> str | None:
    text = re.sub(r"[\s()-]", "", raw or "")
    if not text:
        return None
    if not _MOBILE.fullmatch(text):
        raise InputError("Enter the mobile number with its country code, e.g. +90 555 123 45 67.")
    return text


def parse_note(raw: str | None) -> str | None:
    text = " ".join((raw or "").split())
    if len(text) > NOTE_MAX:
        raise InputError(f"The note can be at most {NOTE_MAX} characters.")
    return text or None

