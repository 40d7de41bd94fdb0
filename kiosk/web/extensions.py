"""The web layer's extensions, set up once by kiosk.app: sessions, CSRF, Babel, the templates'
filters, the security headers and the access check."""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import timedelta
from typing import Any

from cachelib.file import FileSystemCache
from flask import Flask, Request, Response, has_request_context, request, session
from flask.sessions import NullSession, SessionInterface
from flask_babel import Babel
from flask_wtf.csrf import CSRFProtect

from .. import __version__, logs, money
from ..checkout.rates import Window
from ..i18n import LANGUAGE_NAMES, TRANSLATIONS_DIR, compile_catalogs, direction, staff_language
from ..paths import STATIC_DIR
from ..services import Services, kiosk
from . import access, security, sessions, staff
from . import format as fmt
from .proxy import TrustedProxies

csrf = CSRFProtect()
SESSION_LIFETIME = timedelta(days=30)
STAFF_BLUEPRINTS = frozenset({"operator", "reports", "till"})
babel = Babel()


class SessionlessProbes(SessionInterface):
    """Routes whose line in the access table says so (probes, static files, the till API, the
    displays' idle poll) answer without touching the session store: /healthz and the stylesheet
    work even while Redis is away, and a display waiting all day for the next sale costs no
    session read or write. An unknown path opens no session either."""

    def __init__(self, inner: SessionInterface) -> None:
        self.inner = inner

    def open_session(self, app: Flask, request: Request) -> Any:
        if not access.needs_session(app, request):
            return self.make_null_session(app)
        return self.inner.open_session(app, request)

    def save_session(self, app: Flask, session: Any, response: Response) -> None:
        if not isinstance(session, NullSession):
            self.inner.save_session(app, session, response)

    def regenerate(self, session: Any) -> None:
        """A new session id with the same contents (flask-session drops the old one)."""
        self.inner.regenerate(session)  # type: ignore[attr-defined]


def current_locale() -> str:
    """The customer's choice on this kiosk, until the next customer; else the shop's default.
    Staff pages (the operator area, the console) are in Turkish or English only."""
    settings = kiosk().settings
    try:
        chosen = session.get("locale")
    except AttributeError:  # no session at all: its store (Redis) could not be reached
        chosen = None
    if has_request_context() and request.blueprint in STAFF_BLUEPRINTS:
        return staff_language(chosen if isinstance(chosen, str) else "",
                              (settings.default_locale, *settings.languages))
    return chosen if chosen in settings.languages else settings.default_locale


def _asset_version() -> str:
    digest = hashlib.sha256(__version__.encode())
    for name in ("kiosk.css", "kiosk.js"):
        path = STATIC_DIR / name
        if path.exists():
            digest.update(path.read_bytes())
    return digest.hexdigest()[:10]


def init_app(app: Flask, kiosk_services: Services) -> None:
    settings = kiosk_services.settings
    if settings.behind_proxy:
        app.wsgi_app = TrustedProxies(  # type: ignore[method-assign]
            app.wsgi_app, settings.trusted_proxies)
    app.config.update(
        # A kiosk's browser may crash or restart mid-payment: its cookie outlives the browser,
        # so it comes back to the same checkout.
        SESSION_PERMANENT=True,
        PERMANENT_SESSION_LIFETIME=SESSION_LIFETIME,
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        SESSION_REFRESH_EACH_REQUEST=False,
        SESSION_COOKIE_NAME="kiosk_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        # A kiosk screen waits for customers all day: the CSRF token lives as long as the session.
        WTF_CSRF_TIME_LIMIT=None,
        SEND_FILE_MAX_AGE_DEFAULT=31536000,  # static URLs carry a version: cache them for good
        # No form of the kiosk comes near this; a bigger body is refused (413) before it is read.
        MAX_CONTENT_LENGTH=64 * 1024,
    )
    if kiosk_services.redis is not None:
        app.session_interface = sessions.RedisSessions(
            app, kiosk_services.redis, "kiosk:session:",
            new_sessions=Window(kiosk_services.rates, "new-session", sessions.NEW_SESSIONS))
    else:
        files = FileSystemCache(str(settings.state_dir / "sessions"), threshold=5000,
                                default_timeout=int(SESSION_LIFETIME.total_seconds()), mode=0o600)
        app.session_interface = sessions.FileSessions(app, client=files, permanent=True)
    app.session_interface = SessionlessProbes(app.session_interface)
    app.before_request(lambda: sessions.refuse_without_store(session))  # before the CSRF check
    compile_catalogs()
    babel.init_app(app, default_locale=settings.default_locale,
                   default_translation_directories=str(TRANSLATIONS_DIR),
                   default_timezone=settings.timezone.key, locale_selector=current_locale)
    version = _asset_version()
    app.jinja_env.globals.update(
        asset_version=version, settings=settings, language_names=LANGUAGE_NAMES, text_direction=direction,
        keypad_format=lambda locale: money.keypad_format(settings.currency, locale))
    def fiat(amount: Any, locale: str, currency: str | None = None) -> str:
        """`amount|fiat(locale)`: in the shop's currency unless another is named."""
        return fmt.fiat(amount, locale, (currency or settings.currency).upper())

    app.jinja_env.filters.update(
        fiat=fiat, coin_due=fmt.coin_due, coin_received=fmt.coin_received, rate=fmt.rate,
        network_name=fmt.network_name, customer_note=fmt.customer_note,
        grouped=fmt.grouped, tx_state=fmt.tx_state,
        tx_state_label=fmt.tx_state_label, local_time=fmt.local_time, epoch_time=fmt.epoch_time,
        epoch_clock=fmt.epoch_clock,
        status_label=fmt.status_label, source_label=fmt.source_label, staff_date=fmt.staff_date,
    )

    @app.context_processor
    def locale_context() -> dict[str, str]:
        locale = current_locale()
        return {"locale": locale, "direction": direction(locale)}
    logging.getLogger("kiosk").setLevel(logging.INFO)
    security.init_app(app)

    @app.before_request
    def tag_request() -> None:
        # One id per request in every log line; a proxy's X-Request-Id is kept when sane.
        given = request.headers.get("X-Request-Id", "")
        logs.request_id.set(given if given.isalnum() and len(given) <= 64 else secrets.token_hex(8))

    @app.teardown_request
    def untag_request(exc: BaseException | None) -> None:
        logs.request_id.set("-")

    # Who may call the route, before the CSRF check: a stranger's form is answered as an unknown
    # id is, not as an expired page that names the screen it came from.
    app.before_request(access.check)
    # After tag_request: a refused form's warning carries the request id too.
    csrf.init_app(app)
    app.before_request(staff.keep_open)  # after the CSRF check
