"""The web app: `create_app` reads the settings, builds the services (kiosk.services) and puts
them in the app's extensions, then sets up the web layer and registers the blueprints. Nothing
imports this module but the entry points (`kiosk serve`, gunicorn, the command line, the tests):
the blueprints find the services with `kiosk.services.kiosk()`, never through here."""

from __future__ import annotations

from typing import Any

from flask import Flask

from . import api, config
from .paths import STATIC_DIR, TEMPLATES_DIR
from .services import Services
from .web import console, display, extensions, health, operator, screens


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
    app.register_blueprint(health.bp)
    extensions.csrf.exempt(api.bp)  # a till proves itself with its bearer key, not a browser's cookie
    app.register_blueprint(api.bp)
    return app
