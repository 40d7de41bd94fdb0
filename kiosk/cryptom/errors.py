"""Errors of the Cryptom Pay client, by cause, so callers can catch precisely."""

from __future__ import annotations


class CryptomError(Exception):
    """Base of every error the client raises."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class AuthError(CryptomError):
    """Upstream refused our credentials (after one fresh login)."""


class Unavailable(CryptomError):
    """Upstream could not be reached or failed: timeout, refused connection, 5xx, garbled body.

    The request may or may not have taken effect upstream.
    """


class Rejected(CryptomError):
    """Upstream understood the request and refused it (4xx), with its message."""


class NotFound(Rejected):
    """Upstream does not know the transaction."""
