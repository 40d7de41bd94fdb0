"""A faithful local stand-in for the Cryptom Pay POS API."""

from .app import DEFAULT_EMAIL, DEFAULT_PASSWORD, create_sandbox_app

__all__ = ["DEFAULT_EMAIL", "DEFAULT_PASSWORD", "create_sandbox_app"]
