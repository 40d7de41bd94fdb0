"""The staff's PIN areas, one implementation for both: the operator's area and the cashier's
console. Unlock with a PIN, lock after idle minutes, Lock, a new session id whenever the rights of
the browser change, one lockout for wrong PINs, and an audit line for each of these.

- The operator PIN opens both areas; the cashier PIN opens the console only.
- Lock, pressed in either area, ends every unlock of that browser.
- Wrong PINs of either area count against one lockout (checkout/pin.py): five per session and
  address, ten from anywhere. Only `kiosk pin unlock`, on the server, ends a lockout early.
"""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass
from typing import Any

from flask import abort, current_app, g, redirect, request, session, url_for

from .. import clock
from ..checkout.pin import PinGuard, PinResult

audit_log = logging.getLogger("kiosk.audit")


@dataclass(frozen=True)
class Area:
    name: str  # "operator" or "till": the audit events' prefix
    idle_seconds: int
    pin_screen: str  # the endpoint of its PIN screen
    session_key: str  # when the unlock ends, as a timestamp in the session

    def pins(self) -> list[str]:
        """The PINs that open this area, the strongest first."""
        settings = current_app.extensions["kiosk"].settings
        found = [settings.operator_pin] if self.name == "operator" else [settings.operator_pin,
                                                                        settings.cashier_pin]
        return [p for p in found if p]


OPERATOR = Area("operator", 300, "operator.pin", "operator_until")
BY = "staff_pin"  # the session's note of which PIN opened its last unlock
CASHIER = Area("till", 900, "till.console", "till_until")  # fifteen minutes: a busy counter
AREAS = (OPERATOR, CASHIER)


def enabled(area: Area) -> bool:
    return bool(area.pins())


def _open_until(area: Area) -> float | None:
    until = session.get(area.session_key)
    return until if isinstance(until, int | float) and until > clock.now() else None


def unlocked(area: Area) -> bool:
    """Open in this browser now. The operator's unlock opens the console too."""
    if not enabled(area):
        return False
    if _open_until(area) is not None:
        return True
    return area is CASHIER and unlocked(OPERATOR)


def touch(area: Area) -> None:
    """A tap keeps the area open for its idle time from now."""
    session[area.session_key] = clock.now() + area.idle_seconds


def require(area: Area, poll: bool = False) -> Any:
    """The access check of a staff route: None when open (a tap extends it), else the way to the
    PIN screen (for a poll, htmx's redirect; a poll never extends the area or writes the session)."""
    if not enabled(area):
        abort(404)
    if not unlocked(area):
        if poll:
            from .access import poll_redirect

            return poll_redirect(area.pin_screen)
        lock_when_idle()
        return redirect(url_for(area.pin_screen))
    if not poll:
        g.staff_tap = area  # kept open by `keep_open`, once the CSRF check has passed too
    return None


def keep_open() -> None:
    """After the CSRF check: a tap that was let in keeps its area open for the idle time. A
    refused form changes nothing, the session included."""
    area = g.pop("staff_tap", None)
    if area is not None:
        touch(area)


def who() -> list[str]:
    """Wrong PINs count against this kiosk session and against the client's address."""
    from .screens import client_keys

    return list(client_keys())


def guard(pin: str | None = None) -> PinGuard:
    return PinGuard(current_app.extensions["kiosk"].store, pin)


def locked_for() -> int:
    """Seconds until this browser may try a PIN again (0: now)."""
    return guard().locked_for(who())


def _check(area: Area, attempt: str) -> tuple[PinResult, str | None]:
    """A PIN that opens `area`, against the one lockout; with the PIN it was compared to."""
    attempt = attempt[:32]
    pins = area.pins()
    # Compared against the PIN it might be, so the guard compares once: wrong tries of any PIN
    # count against one lockout.
    matching = [p for p in pins if hmac.compare_digest(attempt.encode(), p.encode())]
    pin = next(iter(matching or pins), None)
    return guard(pin).check(attempt, who()), pin


def verify(attempt: str, tx_id: str) -> PinResult:
    """A cashier or operator PIN typed on a customer's screen, to end a result that waits for
    staff: the same lockout as the staff areas, and it opens none of them."""
    result, _pin = _check(CASHIER, attempt)
    audit("screen.release" if result.ok else "screen.pin_refused" if not result.compared else
          "screen.lockout" if result.locked_for else "screen.pin_wrong", tx_id)
    return result


def unlock(area: Area, attempt: str) -> PinResult:
    """Try a PIN for this area; on the right one, the area opens with a new session id."""
    result, pin = _check(area, attempt)
    if result.ok:
        session[area.session_key] = clock.now() + area.idle_seconds
        operator_pin = current_app.extensions["kiosk"].settings.operator_pin
        session[BY] = "operator" if pin == operator_pin else "cashier"
        if area is OPERATOR:
            session.pop(CASHIER.session_key, None)  # the operator's unlock holds the console too
        rotate_session()  # an id learnt before the unlock is worth nothing after
        audit(f"{area.name}.unlock")
    else:
        audit(f"{area.name}.pin_refused" if not result.compared else
              f"{area.name}.lockout" if result.locked_for else f"{area.name}.pin_wrong")
    return result


def unlocked_by() -> str:
    """Which PIN opened this browser's console, `operator` or `cashier`: the ledger's cashier
    (the kiosk has no named cashiers)."""
    by = session.get(BY)
    return "operator" if unlocked(OPERATOR) or by == "operator" else "cashier"


def lock(area: Area) -> None:
    """Lock, pressed in `area`: every unlock of this browser ends, whichever area it opened."""
    if any(_open_until(a) is not None for a in AREAS):
        audit(f"{area.name}.lock")
    _end_all()


def lock_when_idle() -> None:
    """An area was left alone past its idle time: every unlock that ran out ends, with a new
    session id."""
    ended = [a for a in AREAS if a.session_key in session and _open_until(a) is None]
    for a in ended:
        audit(f"{a.name}.idle_lock")
        session.pop(a.session_key, None)
    if ended:
        rotate_session()


def _end_all() -> None:
    session.pop(BY, None)
    ended = [session.pop(a.session_key, None) for a in AREAS]
    if any(until is not None for until in ended):
        rotate_session()


def rotate_session() -> None:
    """A new session id whenever the staff's rights change, with the same contents (so a
    customer's checkout on this tablet carries on): an id learnt before is worth nothing after."""
    current_app.session_interface.regenerate(session)  # type: ignore[attr-defined]


def audit(event: str, tx_id: str | None = None, key: str | None = None) -> None:
    """One line per staff action, with the client's address (never a PIN, never a key: a key's
    name only)."""
    extra: dict[str, Any] = {"event": event, "client": request.remote_addr or "-"}
    on = ""
    if tx_id is not None:
        extra["tx"], on = tx_id, f" on {tx_id}"
    if key is not None:
        extra["key"], on = key, f" on key {key}"
    audit_log.info("%s from %s%s", event, extra["client"], on, extra=extra)


def pin_error(result: PinResult) -> str:
    from flask_babel import gettext as _

    if result.locked_for:
        return _("Too many wrong PINs. Try again in %(minutes)d minutes.",
                 minutes=max(1, (result.locked_for + 59) // 60))
    return _("Wrong PIN. %(left)d tries left.", left=result.tries_left)
