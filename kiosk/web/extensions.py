"""Everything the app is wired to, set up in one place."""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import timedelta
from typing import Any

import redis
from cachelib.file import FileSystemCache
from flask import Flask, Request, Response, current_app, request, session
from flask.sessions import NullSession, SessionInterface
from flask_babel import Babel
from flask_session import Session
from flask_wtf.csrf import CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix

from .. import __version__, logs
from ..checkout import Checkout, LocalStore, RedisStore, Store
from ..config import Settings
from ..cryptom import CryptomClient, FileTokenStore, RedisTokenStore, TokenStore
from ..displays import Displays, Orders
from ..i18n import LANGUAGE_NAMES, LOCALES, TRANSLATIONS_DIR, compile_catalogs
from ..paths import STATIC_DIR
from . import format as fmt
from . import security, sessions

csrf = CSRFProtect()
SESSION_LIFETIME = timedelta(days=30)
babel = Babel()


class Kiosk:
    """The app's services, reachable from views as `kiosk()`. With KIOSK_REDIS_URL everything
    shared lives in Redis (a fleet of instances); without it, in files on this host."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.redis = redis.Redis.from_url(settings.redis_url) if settings.redis_url else None
        tokens: TokenStore
        if self.redis is not None:
            tokens = RedisTokenStore(self.redis)
            self.store: Store = RedisStore(self.redis)
        else:
            tokens = FileTokenStore(settings.state_dir / "cryptom-token.json")
            self.store = LocalStore(settings.state_dir / "kiosk.sqlite3")
        self.client = CryptomClient(
            settings.api_url, settings.api_email, settings.api_password, token_store=tokens,
        )
        self.checkout = Checkout(
            self.client, self.store, payment_timeout=settings.payment_timeout,
            currency=settings.currency, create_limit=settings.create_limit,
            # Half a poll interval: one tab never sees a stale answer, a second tab shares it.
            share_seconds=settings.poll_interval / 2,
        )
        self.displays = Displays(self.store)
        self.orders = Orders(self.store, self.checkout, self.displays, min_amount=settings.min_amount,
                             max_amount=settings.max_amount, currency=settings.currency)
        self.webhooks = None
        if settings.webhook_url and settings.webhook_secret:
            from ..api.webhooks import Courier, Webhooks

            self.webhooks = Webhooks(self.store, self.orders, settings.webhook_url, settings.webhook_secret,
                                     backoff=settings.webhook_backoff)
            Courier(self.webhooks).start()


class SessionlessProbes(SessionInterface):
    """Probes, static files, the till API and the displays' idle poll need no session: they answer without
    touching the session store, so /healthz and the stylesheet work even while Redis is away,
    and a display waiting all day for the next sale costs no session read or write."""

    SKIP = ("/healthz", "/readyz", "/static/", "/display/poll", "/display/logo", "/api/")

    def __init__(self, inner: SessionInterface) -> None:
        self.inner = inner

    def open_session(self, app: Flask, request: Request) -> Any:
        if request.path.startswith(self.SKIP):
            return self.make_null_session(app)
        return self.inner.open_session(app, request)

    def save_session(self, app: Flask, session: Any, response: Response) -> None:
        if not isinstance(session, NullSession):
            self.inner.save_session(app, session, response)


def kiosk() -> Kiosk:
    return current_app.extensions["kiosk"]


def current_locale() -> str:
    """The customer's choice on this kiosk, until the next customer; else the shop's default."""
    try:
        chosen = session.get("locale")
    except AttributeError:  # no session at all: its store (Redis) could not be reached
        chosen = None
    return chosen if chosen in LOCALES else kiosk().settings.default_locale


def _asset_version() -> str:
    digest = hashlib.sha256(__version__.encode())
    for name in ("kiosk.css", "kiosk.js"):
        path = STATIC_DIR / name
        if path.exists():
            digest.update(path.read_bytes())
    return digest.hexdigest()[:10]


def init_app(app: Flask, settings: Settings) -> None:
    kiosk_services = Kiosk(settings)
    app.extensions["kiosk"] = kiosk_services
    if kiosk_services.redis is None:
        app.config.update(
            SESSION_TYPE="cachelib",
            SESSION_CACHELIB=FileSystemCache(str(settings.state_dir / "sessions"), threshold=5000,
                                             default_timeout=int(SESSION_LIFETIME.total_seconds()),
                                             mode=0o600),
        )
    if settings.behind_proxy:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)  # type: ignore[method-assign]
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
    )
    if kiosk_services.redis is not None:
        app.session_interface = sessions.RedisSessions(app, kiosk_services.redis, "kiosk:session:")
    else:
        Session(app)
    app.session_interface = SessionlessProbes(app.session_interface)
    app.before_request(lambda: sessions.refuse_without_store(session))  # before the CSRF check
    compile_catalogs()
    babel.init_app(app, default_locale=settings.default_locale,
                   default_translation_directories=str(TRANSLATIONS_DIR),
                   default_timezone=settings.timezone.key, locale_selector=current_locale)
    version = _asset_version()
    app.jinja_env.globals.update(asset_version=version, settings=settings,
                                 language_names=LANGUAGE_NAMES)
    app.jinja_env.filters.update(
        fiat=fmt.fiat, coin_due=fmt.coin_due, coin_received=fmt.coin_received, rate=fmt.rate,
        grouped=fmt.grouped, tx_state=fmt.tx_state,
        tx_state_label=fmt.tx_state_label, local_time=fmt.local_time, epoch_time=fmt.epoch_time,
        status_label=fmt.status_label,
    )

    @app.context_processor
    def locale_context() -> dict[str, str]:
        return {"locale": current_locale()}
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

    # After tag_request: a refused form's warning carries the request id too.
    csrf.init_app(app)
