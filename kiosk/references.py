"""A sale's one reference, the same on every screen, receipt, export and log line."""

from __future__ import annotations


def sale_reference(shop_reference: str | None, sequence: int | None) -> str | None:
    """The shop's own reference (a till's, the console's) beside upstream's sequence number;
    never an id of the kiosk's own making (None: neither is known yet)."""
    return " · ".join(p for p in (shop_reference, f"#{sequence}" if sequence else None) if p) or None
