"""Turkish and English: message catalogs, compiled from the .po files the repository keeps."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

TRANSLATIONS_DIR = Path(__file__).resolve().parent / "translations"
LOCALES = ("tr", "en")
# What a language button says, in its own language.
LANGUAGE_NAMES = {"tr": "Türkçe", "en": "English"}


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
