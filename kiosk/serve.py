"""`kiosk serve`: gunicorn with gthread workers, configured from KIOSK_* settings."""

from __future__ import annotations

import os
from typing import Any

from gunicorn.app.base import BaseApplication


class _Gunicorn(BaseApplication):
    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from . import create_app

        return create_app()


def options() -> dict[str, Any]:
    return {
        "bind": os.environ.get("KIOSK_BIND", "127.0.0.1:8000"),
        "worker_class": "gthread",
        "workers": int(os.environ.get("KIOSK_WORKERS", "2")),
        "threads": int(os.environ.get("KIOSK_THREADS", "8")),
        # upstream read (5 s) < htmx request timeout (8 s) < gunicorn worker timeout
        "timeout": 30,
        "graceful_timeout": 20,
        "keepalive": 5,
    }


def run() -> int:
    from . import create_app

    create_app()  # check the settings once, before forking: one clear line on a bad one
    _Gunicorn(options()).run()
    return 0
