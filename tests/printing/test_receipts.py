"""The receipt on paper: its layout at 32 and 48 columns and the ESC/POS a printer gets, read
back by the tests' own reader (text lines in the selected code page, bold, the raster block of a
right-to-left receipt, the cut); printers' addresses; the tablet's browser launcher."""

from __future__ import annotations

import socket
from datetime import UTC, datetime
from decimal import Decimal
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from kiosk.printing import commands
from kiosk.printing.address import Printer, parse
from kiosk.printing.printers import PrinterDown, send
from kiosk.printing.receipt import Row, Shop, from_sale, rows, text_lines

from .printer import read

SHOP = Shop("Güneş Kafe", ("İstiklal Cad. 12", "Beyoğlu / İstanbul"), "1234567890",
            ZoneInfo("Europe/Istanbul"))
ADDRESS = "TXYZabcdefghijklmnopqrstuvwxyz12"


def sale(**changes):
    values = dict(
        amount=Decimal("1234.50"), currency="TRY", received=Decimal("148.874"),
        coin_amount=Decimal("148.874"),
        coin="USDT", network="TRX", paid_at=datetime(2026, 12, 7, 11, 5, tzinfo=UTC), closed_at=None,
        created_at=datetime(2026, 12, 7, 11, 0, tzinfo=UTC), lines=[], reference=None, kiosk_ref="k7Hq9w",
        order_id=None, tx_id="6571f0a1b2c3d4e5f6a7b8c9", sequence_id=1042, address=ADDRESS, status="paid",
    )
    values.update(changes)
    return SimpleNamespace(**values)


def printed(language: str = "tr", columns: int = 32, copy: bool = False, **changes):
    receipt = from_sale(sale(**changes), SHOP, language=language, copy=copy)
    return read(commands.receipt_bytes(receipt, columns))


# -- the receipt -------------------------------------------------------------------------------


@pytest.mark.parametrize("columns", [32, 48])
def test_a_receipt_fits_its_paper_and_ends_with_a_cut(columns):
    out = printed(columns=columns)
    assert max(len(line) for line in out.lines) == columns  # the rules go edge to edge
    assert all(len(line) <= columns for line in out.lines)
    assert out.cuts == 1 and out.cut_last
    assert out.unknown == []


def test_turkish_letters_print_in_the_printers_code_page():
    out = printed("tr")
    assert out.code_pages == ["cp857"]
    assert out.lines[0].strip() == "Güneş Kafe"
    assert "İstiklal Cad. 12" in out.text and "Beyoğlu / İstanbul" in out.text
    assert out.value("Tarih") == "07.12.2026 14:05"  # the shop's time zone
    assert out.value("Tutar") == "1.234,50 TL"
    assert out.value("Bahşiş") == "0,00 TL"
    assert out.value("Toplam") == "1.234,50 TL"
    assert "Toplam" in "\n".join(out.bold)
    assert out.value("Referans") == "k7Hq9w"
    assert out.value("Cryptom Pay") == "#1042"
    assert out.value("İşlem") == "6571f0a1b2c3d4e5f6a7b8c9"
    assert out.value("Ödendi") == "148.874 USDT"
    assert out.value("Kur") == "1 USDT = 8,29 TL"
    assert out.value("Cüzdan adresi") == "TXYZab...wxyz12"
    assert out.value("Durum") == "Ödendi"
    assert "Vergi no: 1234567890" in out.text
    assert "KOPYA" not in out.text


def test_an_english_receipt_of_a_turkish_shop_keeps_the_shops_letters():
    out = printed("en", 48)
    assert out.lines[0].strip() == "Güneş Kafe"  # PC857 holds them; PC858 would not
    assert out.value("Amount") == "1,234.50 TRY"  # no lira sign in the code page: its code
    assert out.value("Tip") == "0.00 TRY"
    assert out.value("Total") == "1,234.50 TRY"


def test_a_russian_receipt_prints_in_the_cyrillic_code_page():
    receipt = from_sale(sale(), Shop("Кафе Солнце", ("Тверская 12",)), language="ru", copy=False)
    out = read(commands.receipt_bytes(receipt, 32))
    assert out.code_pages == ["cp866"]
    assert out.lines[0].strip() == "Кафе Солнце" and out.lines[1].strip() == "Тверская 12"


def test_a_tip_is_added_to_the_total_rounded_half_up():
    out = printed("en", 48, tip=Decimal("10.005"))
    assert out.value("Tip") == "10.01 TRY"
    assert out.value("Total") == "1,244.51 TRY"


def test_a_reprint_says_copy():
    assert "KOPYA" in printed("tr", copy=True).bold[1]
    assert "COPY" in printed("en", copy=True).text


def test_the_lines_of_an_order_are_printed():
    out = printed("en", 48, lines=[{"name": "Çay", "quantity": 2, "unit_amount": "617.25"}],
                  reference="INV-77")
    assert "Çay" in out.lines
    assert out.value("  2 x 617.25 TRY") == "1,234.50 TRY"
    assert out.value("Reference") == "INV-77"


def test_an_arabic_receipt_is_a_raster_image_right_to_left():
    import os

    from kiosk.printing import raster

    try:
        raster.font()
    except raster.NoFont:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip("fonts-dejavu-core is not installed: run `make test` as root")
    out = printed("ar", 32)
    assert out.lines == [] and len(out.rasters) == 1 and out.cuts == 1 and out.cut_last
    image = out.rasters[0]
    assert image.width == 384 and image.height > 400
    first, last = image.dark_columns()
    assert first < 10 and last > image.width - 10  # labels at the right edge, values at the left


def test_a_pair_that_does_not_fit_puts_its_value_below_at_the_edge():
    fits = text_lines([Row("pair", "Label", "x" * 26)], 32)  # 5 + 1 + 26 = 32
    assert [line for line, _ in fits] == ["Label " + "x" * 26]
    spills = text_lines([Row("pair", "Label", "x" * 27)], 32)
    assert [line for line, _ in spills] == ["Label", " " * 5 + "x" * 27]


def test_a_long_address_is_shortened_and_a_short_one_is_not():
    assert rows(from_sale(sale(address="T" * 16), SHOP, language="en", copy=False))
    out = printed("en", 48, address="T" * 16)
    assert out.value("Wallet address") == "T" * 16
    assert printed("en", 48, address="T" * 17).value("Wallet address") == "TTTTTT...TTTTTT"


def test_printer_addresses():
    assert parse("tcp://192.168.1.50") == Printer("192.168.1.50", 9100, 48)
    assert parse("tcp://printer.local:65535", 32) == Printer("printer.local", 65535, 32)
    for bad in ("tcp://host:65536", "tcp://host:0", "http://host:9100", "192.168.1.50", ""):
        with pytest.raises(ValueError):
            parse(bad)
    with pytest.raises(ValueError):
        parse("tcp://host", 40)


@pytest.mark.parametrize("host", ["169.254.169.254", "169.254.0.1", "[fe80::1]", "[febf::1]",
                                  "0.0.0.0", "[::]", "224.0.0.1", "239.255.255.250", "[ff02::1]",
                                  "[::ffff:a9fe:a9fe]"])
def test_a_printer_is_never_at_a_link_local_unspecified_or_multicast_address(host):
    with pytest.raises(ValueError, match="link-local"):
        parse(f"tcp://{host}:9100")


@pytest.mark.parametrize("host", ["127.0.0.1", "[::1]", "localhost", "169.253.255.255", "169.255.0.1",
                                  "[fec0::1]", "223.255.255.255", "192.168.1.50"])
def test_loopback_and_the_addresses_next_to_the_refused_ones_are_printers(host):
    assert parse(f"tcp://{host}:9100").port == 9100


def test_a_printer_name_that_resolves_to_a_link_local_address_gets_nothing(monkeypatch):
    """A name is judged by what it resolves to when the job is sent (no DNS in a test: the
    resolver's answer is the one thing stood in for)."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    listener.settimeout(0.2)
    real = socket.getaddrinfo

    def resolve(host, *args, **kw):
        if host == "metadata.example":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("169.254.169.254", port))]
        return real(host, *args, **kw)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    with pytest.raises(PrinterDown, match="refused"):
        send(Printer("metadata.example", port), b"job")
    send(Printer("127.0.0.1", port), b"job")  # loopback: a print server on the tablet's host
    conn, _ = listener.accept()
    assert conn.recv(3) == b"\x10\x04\x04"
    conn.close()
    listener.close()


@pytest.mark.parametrize("bad", ["\x1b@", "\x1dV\x00", "\x1b!\x38", "\x10\x04\x01", "\x9b2J", "\x7f",
                                 "\x00", "\x85", "\x1c&"])
def test_a_reference_never_puts_a_control_byte_on_paper(bad):
    """A till's reference (or a shop's name, an item's) holding ESC, GS, DLE, a C1 control:
    printed as text without it, never as a command of its own."""
    def job(mark: str) -> tuple[object, bytes]:
        shop = Shop(f"{mark}Kafe", ("Cad. 1",), None, ZoneInfo("Europe/Istanbul"))
        receipt = from_sale(sale(reference=f"{mark}REF1", lines=[{"name": f"{mark}Tea", "quantity": 1,
                                                                 "unit_amount": "5"}]), shop,
                            language="en", copy=False)
        return receipt, commands.receipt_bytes(receipt, 48)

    kept = "".join(ch for ch in bad if not (ord(ch) < 32 or 127 <= ord(ch) < 160))  # ESC @ -> "@"
    receipt, printed_job = job(bad)
    for line, _row in text_lines(rows(receipt), 48):
        assert not any(ord(ch) < 32 or 127 <= ord(ch) < 160 for ch in line), repr(line)
    assert printed_job == job(kept)[1]  # byte for byte the job of the same texts without the controls
    out = read(printed_job)
    assert out.value("Reference") == f"{kept}REF1" and out.lines[0].strip() == f"{kept}Kafe"
    assert out.unknown == [] and out.cuts == 1
    report = commands.lines_bytes(f"{bad}Z", [(f"{bad}Ref", f"{bad}1")], 48)
    assert report == commands.lines_bytes(f"{kept}Z", [(f"{kept}Ref", f"{kept}1")], 48)


@pytest.mark.parametrize(("asked", "flag"), [("1", True), ("0", False), ("", False)])
def test_the_kiosk_browser_launcher_prints_silently_when_asked(tmp_path, asked, flag):
    """docs/deploy/kiosk-browser.sh with KIOSK_PRINTING=1 adds Chromium's --kiosk-printing (a
    stand-in chromium on the PATH prints the arguments it got)."""
    import os
    import subprocess
    from pathlib import Path

    fake = tmp_path / "chromium"
    fake.write_text('#!/bin/sh\nfor a in "$@"; do echo "$a"; done\n')
    fake.chmod(0o755)
    script = Path(__file__).resolve().parents[2] / "docs" / "deploy" / "kiosk-browser.sh"
    env = {**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}", "KIOSK_PRINTING": asked}
    run = subprocess.run(["sh", str(script)], env=env, capture_output=True, text=True, check=True)
    args = run.stdout.split()
    assert ("--kiosk-printing" in args) is flag
    assert "--kiosk" in args and args[-1] != ""
