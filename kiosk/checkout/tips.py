"""Tips: what the customer adds to the amount, kept apart from it everywhere (the ledger, the
screens, the till API, the webhooks, the export). Upstream is asked for the amount plus the tip.

A preset is a percentage of the amount (KIOSK_TIPS), rounded half up to the currency's digits;
a custom tip is typed, at most the amount itself, never negative, never more digits than the
currency has. The total (amount + tip) never passes KIOSK_MAX_AMOUNT, the limit of what a customer
is charged and upstream is asked for: only the presets that fit are offered, and a custom tip that
does not fit is refused. Bad input gets a clear message and changes nothing."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from ..money import digits, rounded
from .inputs import N_, InputError, Nn_

NONE, CUSTOM = "none", "custom"


@dataclass(frozen=True)
class Preset:
    percent: Decimal
    tip: Decimal

    @property
    def key(self) -> str:
        """The choice's name in forms and test ids: 5, 10, 12.5."""
        return f"{self.percent.normalize():f}"


def most(amount: Decimal, limit: Decimal | None) -> Decimal:
    """The largest tip: the amount itself, and no more than keeps the total within `limit`."""
    if limit is None:
        return amount
    return max(Decimal(0), min(amount, limit - amount))


def presets(amount: Decimal, percents: tuple[Decimal, ...], currency: str,
            limit: Decimal | None = None) -> list[Preset]:
    """The presets whose total (amount + tip) stays within `limit`: the others are not offered."""
    offered = [Preset(p, preset_tip(amount, p, currency)) for p in percents]
    return [p for p in offered if limit is None or amount + p.tip <= limit]


def preset_tip(amount: Decimal, percent: Decimal, currency: str) -> Decimal:
    """`percent` % of `amount`, half up to the currency's digits (10 % of 0.05 lira is 0.01)."""
    return rounded(amount * percent / 100, currency)


def parse_custom(raw: str | None, amount: Decimal, currency: str, limit: Decimal | None = None) -> Decimal:
    """A typed tip: digits, with a comma or a dot and at most the currency's digits after it;
    0 means no tip; at most the amount, and at most what keeps the total within `limit`."""
    text = (raw or "").strip()
    places = digits(currency)
    pattern = r"[0-9]{1,9}" + (rf"(?:[.,][0-9]{{1,{places}}})?" if places else "")
    if not text:
        raise InputError(N_("Enter the tip, or choose No tip."))
    if not re.fullmatch(pattern, text):
        if places == 0:
            raise InputError(N_("Enter the tip as a whole amount, without decimals."))
        singular, plural = Nn_("Enter the tip as an amount, with at most %(num)d decimal.",
                               "Enter the tip as an amount, with at most %(num)d decimals.")
        raise InputError(singular, plural=plural, num=places)
    tip = Decimal(text.replace(",", "."))
    if tip > amount:
        raise InputError(N_("The tip can be at most the amount itself, %(amount)s."), amount)
    if tip > most(amount, limit):
        raise InputError(N_("The tip can be at most %(amount)s: the total may not pass the largest amount "
                            "the kiosk takes."), most(amount, limit))
    return rounded(tip, currency)


def choose(choice: str | None, custom: str | None, amount: Decimal, percents: tuple[Decimal, ...],
           currency: str, limit: Decimal | None = None) -> Decimal:
    """The tip of a tip screen's answer: a preset's key, `none`, or `custom` with the typed tip."""
    if choice == NONE:
        return Decimal(0).quantize(Decimal(1).scaleb(-digits(currency)))
    if choice == CUSTOM:
        return parse_custom(custom, amount, currency, limit)
    for preset in presets(amount, percents, currency, limit):
        if choice == preset.key:
            return preset.tip
    raise InputError(N_("Choose one of the tips shown."))
