"""The till API blueprint (/api/v1): JSON in and out, bearer keys, idempotency, webhooks."""

from __future__ import annotations

from flask import Flask

from .keys import ApiKeys
from .views import bp

__all__ = ["ApiKeys", "bp", "init_app"]


def init_app(app: Flask) -> None:
    from ..web.extensions import csrf

    csrf.exempt(bp)  # a till proves itself with its bearer key, not a browser's cookie
    app.register_blueprint(bp)
