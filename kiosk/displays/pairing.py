"""Pairing codes: what an unpaired display shows so staff can name it and make it the shop's.

Six characters from an alphabet without look-alikes (no 0/O, no 1/I/L), read aloud or typed on a
phone without mistakes. A code is valid for ten minutes; the display asks for a fresh one before
its code runs out, and the old one keeps working until its own end.
"""

from __future__ import annotations

import re
import secrets

ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
LENGTH = 6
VALID_SECONDS = 600
RENEW_BEFORE = 60  # a code with less left than this is replaced on the next look


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def normalize(raw: str | None) -> str | None:
    """What staff typed, as a code: case, spaces and dashes do not matter. None when it cannot be
    a code at all (so nothing is looked up for it)."""
    text = re.sub(r"[\s-]", "", str(raw or "")).upper()
    if len(text) != LENGTH or any(c not in ALPHABET for c in text):
        return None
    return text
