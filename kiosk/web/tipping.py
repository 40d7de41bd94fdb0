"""The tip screen, after the amount and before the coin (KIOSK_TIPS), on a keypad kiosk and on a
till-mode display whose order asks for one:

    /tip       (GET)     each preset with its amount, no tip, another amount (?custom=1: keypad)
    /tip       (POST)    the customer's answer; then the coin, or the payment itself

The display's own answer goes to /display/tip (kiosk.web.display). The rules of a tip are in
kiosk.checkout.tips; this module only shows and reads the screen.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from flask import redirect, render_template, request, session, url_for
from flask_babel import gettext as _

from ..checkout import tips
from ..checkout.inputs import InputError
from ..services import kiosk
from .screens import bp, message, new_nonce, start


def tip_page(amount: Decimal, *, action: str, hidden: dict[str, str], custom_url: str, presets_url: str,
             custom: bool = False, error: str | None = None, value: str = "", **extra: Any) -> str:
    settings = kiosk().settings
    offered = tips.presets(amount, settings.tips, settings.currency, settings.max_amount)
    return render_template("kiosk/tip.html", amount=amount, custom=custom, error=error, value=value,
                           presets=offered, held_back=len(offered) < len(settings.tips),
                           most=tips.most(amount, settings.max_amount), limit=settings.max_amount,
                           action=action,
                           hidden=hidden, custom_url=custom_url, presets_url=presets_url, **extra)


def answer(amount: Decimal) -> Decimal:
    """The tip the screen's form asks for (raises InputError with the reason)."""
    settings = kiosk().settings
    return tips.choose(request.form.get("tip"), request.form.get("custom"), amount, settings.tips,
                       settings.currency, settings.max_amount)


def custom_value() -> str:
    """A refused custom tip, as the keypad shows it again (only what it could have typed)."""
    value = str(request.form.get("custom") or "")
    return value if len(value) <= 12 and value.replace(".", "", 1).isdigit() else ""


def render_tip(error: str | None = None, status: int = 200, custom: bool = False) -> Any:
    return tip_page(Decimal(session["amount"]), action=url_for(".tip_submit"), hidden={"nonce": new_nonce()},
                    custom_url=url_for(".tip", custom="1"), presets_url=url_for(".tip"), custom=custom,
                    error=error, value=custom_value() if custom else "",
                    cancel={"action": url_for(".reset"), "hidden": {}, "testid": "back", "label": _("Back")}
                    ), status


@bp.get("/tip")
def tip() -> Any:
    if not session.get("amount") or not kiosk().settings.tips:
        return redirect(url_for(".amount"))
    return render_tip(custom=request.args.get("custom") == "1")


@bp.post("/tip")
def tip_submit() -> Any:
    settings = kiosk().settings
    if not session.get("amount") or not settings.tips:
        return redirect(url_for(".amount"))
    try:
        chosen = answer(Decimal(session["amount"]))
    except InputError as err:
        return render_tip(message(err), 422, custom=request.form.get("tip") == tips.CUSTOM)
    session["tip"] = str(chosen)
    if len(settings.coins) > 1:
        return redirect(url_for(".coin"), 303)
    return start(request.form.get("nonce"), settings.coins[0].key, retry=".tip")
