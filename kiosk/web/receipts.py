"""What the screens that print show and send: the print widget's state, a tap's print request
(its form's one-time token is the request's key), the customer's paid screen's extras. The
routes are in printing.py."""

from __future__ import annotations

from typing import Any

from flask import request, url_for

from ..printing.jobs import NoPrinter, Print, TooMany
from ..services import kiosk
from .screens import new_nonce, valid_nonce


def print_state(tx_id: str | None, display_id: str | None) -> dict[str, Any]:
    """What the print widget of a screen shows: whether a printer is there for this sale, the
    latest print of it, and whether that print's printer is answering."""
    prints = kiosk().prints
    printer = prints.printer_for(display_id)
    job: Print | None = prints.of_tx(tx_id) if tx_id else None
    down = prints.printer_down(job.printer if job else printer)
    return {"printer": printer, "print_job": job, "printer_down": down}


def request_print(tx_id: str, display_id: str | None) -> Print | None:
    """A tap: the form's token is the request's key. None: the form is stale or no printer."""
    nonce = valid_nonce(request.form.get("nonce"))
    if nonce is None:
        return None
    try:
        return kiosk().prints.receipt(tx_id, f"tap:{nonce}", display_id)
    except (NoPrinter, TooMany):
        return None


def screen_printing(tx_id: str) -> dict[str, Any]:
    """The customer's paid screen: a fresh token for its button, and where its print is polled."""
    return {"print_nonce": new_nonce(), "poll_url": url_for("kiosk.print_status", tx_id=tx_id),
            "browser_printing": kiosk().settings.auto_print == "browser"}
