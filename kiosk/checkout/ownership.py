"""Who may act on a checkout: whoever started it, and nobody else.

An owner is a short text: `kiosk:<id>` for a kiosk's browser (a random id kept in its session,
stable across the session id's rotation when staff unlock the operator area) or `display:<id>`
for a paired display. A record without an owner (kept before owners were) belongs to nobody: only
the operator area, which reaches every transaction, can act on it. Every other caller must get the
answer an unknown id gets, so the existence of a transaction is never revealed.
"""

from __future__ import annotations

import hmac
from typing import Protocol


class Owned(Protocol):
    @property
    def owner(self) -> str | None: ...


def kiosk(kiosk_id: str) -> str:
    return f"kiosk:{kiosk_id}"


def display(display_id: str) -> str:
    return f"display:{display_id}"


def owns(record: Owned, owner: str | None) -> bool:
    """True only when `owner` is the record's own, non-empty owner."""
    if not record.owner or not owner:
        return False
    return hmac.compare_digest(record.owner.encode(), owner.encode())
