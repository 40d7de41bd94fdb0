"""Where the templates and static files are: inside the package when installed from a wheel,
at the top of the repository when running from a checkout."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def _find(name: str) -> Path:
    inside = _PACKAGE / name
    return inside if inside.is_dir() else _PACKAGE.parent / name


TEMPLATES_DIR = _find("templates")
STATIC_DIR = _find("static")
