"""Headers on every response (a strict CSP: the pages need no inline script or style, and
friends), and the calm answer to a form whose CSRF check failed."""

from __future__ import annotations

import logging
import re
from urllib.parse import quote

from flask import Flask, Response, current_app, flash, redirect, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as Answer

log = logging.getLogger(__name__)

CSP = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self'",
    "connect-src 'self'",
    "font-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])
PERMISSIONS = "camera=(), microphone=(), geolocation=(), payment=(), usb=(), screen-wake-lock=(self)"
# Same-origin requests keep their Referer: over HTTPS the CSRF check compares it with the host
# (WTF_CSRF_SSL_STRICT), and without it no form would be accepted. Other sites get nothing.
REFERRER_POLICY = "same-origin"
EXPIRED = "expired"  # the flash category of the "page expired" notice


def screen_for(path: str) -> str:
    """The screen a form was sent from: the nearest path at or above the form's own that a
    browser can GET (/pay/<id>/cancel -> /pay/<id>, /operator/lock -> /operator)."""
    adapter = current_app.create_url_adapter(request)
    parts = [p for p in re.split("/+", path) if p]
    while parts and adapter is not None:
        candidate = "/" + "/".join(parts)
        try:
            adapter.match(candidate, method="GET")
            return candidate
        except HTTPException:  # not found, not a page, or a redirect: one level up
            parts.pop()
    return "/"


def form_expired(err: CSRFError) -> Answer:
    """A page left open overnight, a second tab, a session that ended, a referrer withheld:
    nothing is done, and the customer is back on the screen with a note to try again."""
    log.warning("form refused: %s %s: %s", request.method, request.path[:200], err.description)
    flash(_("This page expired, please try again."), EXPIRED)
    return redirect(request.script_root + quote(screen_for(request.path), safe="/"), 303)


def init_app(app: Flask) -> None:
    app.register_error_handler(CSRFError, form_expired)

    @app.after_request
    def secure_headers(response: Response) -> Response:
        headers = response.headers
        headers.setdefault("Content-Security-Policy", CSP)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", REFERRER_POLICY)
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Permissions-Policy", PERMISSIONS)
        headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        if response.mimetype == "text/html":
            headers.setdefault("Cache-Control", "no-store")
        return response
