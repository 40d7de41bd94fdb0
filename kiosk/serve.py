"""`kiosk serve`: gunicorn with the checked-in configuration in kiosk/gunicorn_config.py."""

from __future__ import annotations

import os
import sys


def run() -> int:
    from .app import create_app

    # Check the settings once, before forking: one clear line on a bad one. The ledger's schema is
    # brought up to date then too, before any worker writes to it.
    create_app().extensions["kiosk"].upgrade_ledger()
    # glibc gives each thread that allocates its own malloc arena, up to 8 per core: a worker's
    # threads each kept freed memory of their own (about 3 MB a worker). Two are enough for
    # threads that mostly wait on upstream; a value set in the environment is kept.
    os.environ.setdefault("MALLOC_ARENA_MAX", "2")
    gunicorn = [sys.executable, "-m", "gunicorn", "-c", "python:kiosk.gunicorn_config",
                "kiosk.app:create_app()"]
    os.execv(sys.executable, gunicorn)  # noqa: S606 - our own interpreter, fixed arguments
    return 0  # pragma: no cover - execv does not return
