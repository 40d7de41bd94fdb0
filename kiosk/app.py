"""The web app: `create_app` reads the settings, builds the services (kiosk.services) and puts
them in the app's extensions, then sets up the web layer and registers the blueprints. Nothing
imports this module but the entry points (`kiosk serve`, gunicorn, the command line, the tests):
the blueprints find the services with `kiosk.services.kiosk()`, never through here."""

from __future__ import annotations

from typing import Any

from flask import Flask, g
from flask_limiter import Limiter

from . import api, config
from .checkout.rates import flask_limiter_storage
from .paths import STATIC_DIR, TEMPLATES_DIR
from .services import Services
from .web import console, display, extensions, health, operator, printing, reports, screens  # noqa: F401


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Settings from KIOSK_* (then `test_config`), services, extensions, blueprints; nothing else."""
    app = Flask(
        "kiosk",
        instance_relative_config=True,
        template_folder=str(TEMPLATES_DIR),
        static_folder=str(STATIC_DIR),
    )
    app.config.from_mapping(config.DEFAULTS)
    # Text, as written: Flask would read values as JSON, turning a password 12.50 into 12.5.
    app.config.from_prefixed_env("KIOSK", loads=str)
    app.config.pop(config.DEMO, None)  # only `kiosk demo` turns the demo on, never the environment
    if test_config:
        app.config.from_mapping(test_config)
    settings = config.load(app.config, app.instance_path)

    services = Services(settings)
    app.extensions["kiosk"] = services
    extensions.init_app(app, services)
    app.register_blueprint(screens.bp)
    app.register_blueprint(display.bp)
    app.register_blueprint(console.bp)
    app.register_blueprint(operator.bp)
    app.register_blueprint(reports.bp)
    app.register_blueprint(health.bp)
    extensions.csrf.exempt(api.bp)  # a till proves itself with its bearer key, not a browser's cookie
    app.register_blueprint(api.bp)
    limit_tills(app, services)
    return app


def _till_key() -> str:
    return str(g.get("api_key") or "")


def limit_tills(app: Flask, services: Services) -> None:
    """KIOSK_API_RATE_LIMIT requests per key across the whole till API, counted by Flask-Limiter
    where every worker and host sees the count (kiosk.checkout.rates). Its check runs after the
    access check (registered before it), so a request without a valid key is refused before it
    counts anything; the API blueprint answers the 429 in its own JSON, with Retry-After."""
    # The limits are the kiosk's own settings: Flask-Limiter's RATELIMIT_* (which reach the config
    # from the environment like every KIOSK_*, as text) never change what it counts or answers.
    for name in [name for name in app.config if name.startswith("RATELIMIT_")]:
        app.config.pop(name)
    uri, options = flask_limiter_storage(services.store, services.redis)
    limiter = Limiter(key_func=_till_key, storage_uri=uri, storage_options=options, strategy="fixed-window")
    limiter.init_app(app)
    count, seconds = services.settings.api_rate_limit
    limiter.shared_limit(f"{count}/{seconds} second", scope="till-api",
                         exempt_when=lambda: "api_key" not in g)(api.bp)
