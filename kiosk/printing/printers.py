"""Where a receipt goes: the shop's printer (KIOSK_PRINTER_URL) or a paired display's own, set on
the operator's Displays page; and sending a print job to one over raw TCP (port 9100), which is
what a shop's network receipt printer speaks."""

from __future__ import annotations

import json
import socket

from ..checkout.inputs import N_, InputError
from ..checkout.store import Store
from .address import AddressRefused, Printer, parse, refused

CONNECT_TIMEOUT = 5.0
STATUS_WAIT = 0.5  # how long a printer may take to answer "is there paper?"; silence is no answer
PAPER_END = 0x60  # DLE EOT 4: bits 5 and 6 set when the roll is out


__all__ = ["Printer", "PrinterDown", "of_display", "parse", "send", "set_for_display"]


class PrinterDown(Exception):
    """The printer did not take the job (off, unplugged, out of paper): try again later."""


def send(printer: Printer, data: bytes, timeout: float = CONNECT_TIMEOUT) -> None:
    """The job to the printer, in one connection. Before it, the printer is asked whether it has
    paper (DLE EOT 4); one that says it has none gets nothing. Raises PrinterDown."""
    try:
        # A name is judged by what it resolves to now: one pointing at a link-local address
        # (a cloud host's metadata service) gets nothing.
        found = socket.getaddrinfo(printer.host, printer.port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise PrinterDown("not answering") from exc
    if any(refused(str(info[4][0])) for info in found):
        raise PrinterDown("address refused")
    try:
        # create_connection, not python-escpos's Network: that one opens IPv4 sockets only, so a
        # printer at an IPv6 address the settings accept would never print.
        conn = socket.create_connection((printer.host, printer.port), timeout=timeout)
    except OSError as exc:
        raise PrinterDown("not answering") from exc
    try:
        conn.sendall(b"\x10\x04\x04")
        conn.settimeout(STATUS_WAIT)
        try:
            answer = conn.recv(1)
        except TimeoutError:
            answer = b""  # many printers (and print servers) never answer: go ahead
        if answer and answer[0] & PAPER_END == PAPER_END:
            raise PrinterDown("out of paper")
        conn.settimeout(timeout)
        conn.sendall(data)
        conn.shutdown(socket.SHUT_WR)
    except OSError as exc:
        raise PrinterDown(type(exc).__name__) from exc
    finally:
        conn.close()


# -- a paired display's own printer -----------------------------------------------------------


def _key(display_id: str) -> str:
    return f"printer:display:{display_id}"


def of_display(store: Store, display_id: str | None) -> Printer | None:
    if not display_id:
        return None
    text = store.get(_key(display_id))
    if not text:
        return None
    try:
        return Printer.from_json(json.loads(text))
    except (ValueError, KeyError, TypeError):
        return None


def set_for_display(store: Store, display_id: str, raw_url: str | None,
                    raw_columns: str | None) -> Printer | None:
    """The printer of a display; an empty address takes it off (the shop's printer then)."""
    if not (raw_url or "").strip():
        store.delete(_key(display_id))
        return None
    try:
        printer = parse(raw_url, int(raw_columns or 48))
    except AddressRefused:
        raise InputError(N_("A printer's address may not be link-local (169.254.x.x, fe80::), unspecified "
                            "(0.0.0.0, ::) or multicast.")) from None
    except ValueError:
        raise InputError(N_("A printer's address reads tcp://HOST:PORT, like tcp://192.168.1.50:9100, "
                            "and its width is 32 or 48 columns.")) from None
    store.set(_key(display_id), json.dumps(printer.to_json()))
    return printer
