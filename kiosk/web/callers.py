"""Who is asking: a paired display proves itself with its credential cookie; anyone else is a
browser the shop has not paired (a keypad kiosk's session, or a stranger).

The cookie counts only when the kiosk issued it (its hash is in the store): a value the kiosk
never issued, or retired, is the same as no cookie."""

from __future__ import annotations

from flask import Response, g, request

from ..displays import Display
from ..displays.registry import valid_credential
from ..services import kiosk

COOKIE = "kiosk_display"
# Browsers keep a cookie at most 400 days; every visit of a display to /display renews it.
COOKIE_SECONDS = 400 * 24 * 3600


def credential() -> str | None:
    """The display cookie as sent, when it has the shape of a credential: not yet a proof of
    anything (see `display`, and `Displays.shown_code` for an unpaired browser)."""
    return valid_credential(request.cookies.get(COOKIE))


def display() -> Display | None:
    """The paired display making this request, looked up once per request."""
    if "display" not in g:
        g.display = kiosk().displays.by_credential(credential())
    return g.display


def remember(response: Response, value: str) -> Response:
    """The display's credential: HttpOnly (no script reads it), sent to this site only, and kept
    across browser restarts."""
    response.set_cookie(COOKIE, value, max_age=COOKIE_SECONDS, httponly=True, samesite="Strict",
                        secure=kiosk().settings.secure_cookies, path="/")
    return response
