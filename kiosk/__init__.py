"""Cryptom Pay kiosk checkout: a Flask app a shop runs fullscreen on a tablet."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    """`kiosk.create_app` (for `flask --app kiosk` and WSGI servers) without importing the whole
    web app for every `import kiosk.clock`: it lives in kiosk.app."""
    if name == "create_app":
        from .app import create_app

        return create_app
    raise AttributeError(f"module 'kiosk' has no attribute {name!r}")
