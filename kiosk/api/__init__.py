"""The till API blueprint (/api/v1): JSON in and out, bearer keys, idempotency. The keys and
webhooks themselves live in kiosk.tills; kiosk.app registers the blueprint."""

from __future__ import annotations

from .views import bp

__all__ = ["bp"]
