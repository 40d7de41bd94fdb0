"""The kiosk's languages: message catalogs, compiled from the .po files the repository keeps.

A customer reads Turkish, English, German, Russian or Arabic (the shop offers some of them,
KIOSK_LANGUAGES); staff read Turkish or English (the operator area and the console)."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from babel import Locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

TRANSLATIONS_DIR = Path(__file__).resolve().parent / "translations"
CUSTOMER_LANGUAGES = ("tr", "en", "de", "ru", "ar")
STAFF_LANGUAGES = ("tr", "en")
# What a language button says: each language named in its own script.
LANGUAGE_NAMES = {"tr": "Türkçe", "en": "English", "de": "Deutsch", "ru": "Русский", "ar": "العربية"}


# How CLDR writes each customer language (tests/web/test_i18n.py holds it to Babel's): the
# language picker would otherwise load the whole CLDR data of every language it lists.
DIRECTIONS = {"tr": "ltr", "en": "ltr", "de": "ltr", "ru": "ltr", "ar": "rtl"}


def direction(language: str) -> str:
    """`rtl` or `ltr`, for <html dir>, as CLDR writes the language (Arabic right to left)."""
    return DIRECTIONS.get(language) or cldr_direction(language)


def cldr_direction(language: str) -> str:
    return "rtl" if Locale.parse(language).character_order == "right-to-left" else "ltr"


def staff_language(chosen: str, languages: tuple[str, ...]) -> str:
    """The language of the operator area and the console: Turkish or English only. A customer's
    German or Arabic gives way to the first of the shop's languages staff read, else English."""
    if chosen in STAFF_LANGUAGES:
        return chosen
    return next((code for code in languages if code in STAFF_LANGUAGES), "en")


def compile_catalogs(directory: Path = TRANSLATIONS_DIR) -> list[Path]:
    """Write each messages.mo that is missing or older than its .po. The wheel build does this
    too, so an installed package never needs to write into itself."""
    written = []
    for po in directory.glob("*/LC_MESSAGES/messages.po"):
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        with po.open("rb") as fh:
            catalog = read_po(fh)
        tmp = mo.with_suffix(f".{os.getpid()}.tmp")
        try:
            with tmp.open("wb") as fh:
                write_mo(fh, catalog)
            os.replace(tmp, mo)
            written.append(mo)
        except OSError:  # a read-only install: its build compiled the catalogs already
            with contextlib.suppress(OSError):
                tmp.unlink()
    return written
