"""Cryptom Pay kiosk checkout: a Flask app a shop runs fullscreen on a tablet."""

from __future__ import annotations

from typing import Any

from flask import Flask

from . import config
from .paths import STATIC_DIR, TEMPLATES_DIR

__version__ = "0.1.0"


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Settings from KIOSK_* (then `test_config`), extensions, blueprints; nothing else."""
    app = Flask(
        __name__,
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

    from . import api
    from .web import console, display, extensions, health, operator, printing, screens  # noqa: F401

    extensions.init_app(app, settings)
    app.register_blueprint(screens.bp)
    app.register_blueprint(display.bp)
    app.register_blueprint(console.bp)
    app.register_blueprint(operator.bp)
    app.register_blueprint(health.bp)
    api.init_app(app)
    return app
