"""The printing settings, each at its edges: a wrong one stops the start with one line naming it,
and changes nothing."""

from __future__ import annotations

import pytest

from kiosk import config
from kiosk.config import ConfigError
from kiosk.printing.address import Printer

from ..conftest import PIN, SECRET

BASE = {"API_URL": "https://pay.example", "API_EMAIL": "a@b.c", "API_PASSWORD": "p",
        "SECRET_KEY": SECRET, "OPERATOR_PIN": PIN}


def load(tmp_path, **settings):
    return config.load({**config.DEFAULTS, **BASE, "STATE_DIR": str(tmp_path), **settings}, str(tmp_path))


def refused(tmp_path, **settings) -> str:
    with pytest.raises(ConfigError) as err:
        load(tmp_path, **settings)
    text = str(err.value.code)
    assert "\n" not in text
    return text


def test_by_default_nothing_prints_by_itself(tmp_path):
    s = load(tmp_path)
    assert s.printer is None and s.auto_print == "off" and s.print_retry == (2.0, 60.0, 3600.0)
    assert s.shop_address == () and s.shop_tax_number is None


def test_a_printer_and_its_paper(tmp_path):
    s = load(tmp_path, PRINTER_URL="tcp://192.168.1.50", PRINTER_COLUMNS="32", AUTO_PRINT="printer")
    assert s.printer == Printer("192.168.1.50", 9100, 32) and s.auto_print == "printer"
    assert "KIOSK_PRINTER_COLUMNS" in refused(tmp_path, PRINTER_URL="tcp://p:9100", PRINTER_COLUMNS="40")
    assert "KIOSK_PRINTER_URL" in refused(tmp_path, PRINTER_URL="192.168.1.50:9100")
    assert "KIOSK_PRINTER_URL" in refused(tmp_path, PRINTER_URL="tcp://p:65536")
    assert load(tmp_path, PRINTER_URL="tcp://p:65535").printer.port == 65535


@pytest.mark.parametrize("url", ["tcp://169.254.169.254", "tcp://[fe80::1]:9100", "tcp://0.0.0.0",
                                 "tcp://224.0.0.1"])
def test_the_shops_printer_is_never_link_local_unspecified_or_multicast(tmp_path, url):
    assert "KIOSK_PRINTER_URL may not be a link-local" in refused(tmp_path, PRINTER_URL=url)


def test_the_shops_printer_may_be_on_the_tablets_own_host(tmp_path):
    assert load(tmp_path, PRINTER_URL="tcp://127.0.0.1:9100").printer.host == "127.0.0.1"


def test_printing_on_paid_needs_a_printer(tmp_path):
    assert "KIOSK_PRINTER_URL" in refused(tmp_path, AUTO_PRINT="printer")
    assert load(tmp_path, AUTO_PRINT="browser").auto_print == "browser"  # the tablet's own
    assert "KIOSK_AUTO_PRINT" in refused(tmp_path, AUTO_PRINT="always")


def test_the_shops_address_is_four_lines_of_48_characters_at_most(tmp_path):
    line = "x" * 48
    assert load(tmp_path, SHOP_ADDRESS="|".join([line] * 4)).shop_address == (line,) * 4
    assert "KIOSK_SHOP_ADDRESS" in refused(tmp_path, SHOP_ADDRESS="|".join([line] * 5))
    assert "KIOSK_SHOP_ADDRESS" in refused(tmp_path, SHOP_ADDRESS=line + "x")
    assert load(tmp_path, SHOP_ADDRESS=" İstiklal  Cad. 12 | | Beyoğlu ").shop_address == (
        "İstiklal Cad. 12", "Beyoğlu")


def test_the_tax_number_is_32_characters_at_most(tmp_path):
    assert load(tmp_path, SHOP_TAX_NUMBER="1" * 32).shop_tax_number == "1" * 32
    assert "KIOSK_SHOP_TAX_NUMBER" in refused(tmp_path, SHOP_TAX_NUMBER="1" * 33)


@pytest.mark.parametrize("raw", ["2/60", "0/60/3600", "61/60/3600", "2/3601/3600", "2/60/86401", "a/b/c"])
def test_a_retry_must_grow_within_its_window(tmp_path, raw):
    assert "KIOSK_PRINT_RETRY" in refused(tmp_path, PRINT_RETRY=raw)


def test_a_retry_at_its_edges(tmp_path):
    assert load(tmp_path, PRINT_RETRY="60/60/60").print_retry == (60.0, 60.0, 60.0)
    assert load(tmp_path, PRINT_RETRY="0.5/86400/86400").print_retry == (0.5, 86400.0, 86400.0)
