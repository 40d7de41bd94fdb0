"""A receipt as ESC/POS commands, through python-escpos: text in the printer's code page, or a
raster image for right-to-left languages, always ending with a paper cut.

python-escpos and Pillow (with its barcode, QR and capability tables: about 9 MB) are imported
when a print job is made, not by every web worker that never prints."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from .receipt import Receipt, Row, rows, text_lines

if TYPE_CHECKING:
    from PIL import Image

# The printer's code page per language (ESC t): PC857 holds every Turkish letter; PC858 the
# western European ones and the euro; PC866 Cyrillic. A language missing here prints in PC858.
CODE_PAGES = {"tr": "CP857", "en": "CP858", "de": "CP858", "ru": "CP866"}
DEFAULT_CODE_PAGE = "CP858"
FALLBACK_PAGES = ("CP857", "CP858", "CP866", "CP1252")
PROFILE = "TM-T88V"  # the common Epson command set; its code page numbers are the usual ones
# The same commands for an image, from a profile 576 dots wide (80 mm at 203 dpi): TM-T88V's 512
# made python-escpos refuse the image of a 48-column receipt.
IMAGE_PROFILE = "TM-T20II"


def code_page(language: str) -> str:
    return CODE_PAGES.get(language.split("_")[0], DEFAULT_CODE_PAGE)


def printable_in(page: str) -> Callable[[str], bool]:
    def printable(text: str) -> bool:
        try:
            text.encode(page)
        except UnicodeEncodeError:
            return False
        return True

    return printable


def receipt_bytes(receipt: Receipt, columns: int) -> bytes:
    """The whole print job of one receipt: initialise, the receipt, feed and cut."""
    if receipt.rtl:
        from .raster import draw

        return image_bytes(draw(rows(receipt), columns, rtl=True))
    preferred = code_page(receipt.language)
    for page in (preferred, *(p for p in FALLBACK_PAGES if p != preferred)):
        items = rows(receipt, printable_in(page))
        if all(printable_in(page)(row.left + row.right) for row in items):
            return text_bytes(items, columns, page)  # one page holds every letter (a Turkish shop's name)
    return text_bytes(rows(receipt, printable_in(preferred)), columns, preferred)


def text_bytes(items: list[Row], columns: int, page: str = DEFAULT_CODE_PAGE) -> bytes:
    from escpos.printer import Dummy

    printer = Dummy(profile=PROFILE)
    printer.hw("INIT")
    printer.charcode(page)
    bold = False
    for line, row in text_lines(items, columns):
        if row.strong != bold:
            printer.set(bold=row.strong)
            bold = row.strong
        printer.textln(line)
    if bold:
        printer.set(bold=False)
    printer.cut()
    return bytes(printer.output)


def image_bytes(image: Image.Image) -> bytes:
    from escpos.printer import Dummy

    printer = Dummy(profile=IMAGE_PROFILE)
    printer.hw("INIT")
    printer.image(image, impl="bitImageRaster", fragment_height=960)
    printer.cut()
    return bytes(printer.output)


def lines_bytes(title: str, lines: list[tuple[str, str]], columns: int, language: str = "en",
                rtl: bool = False, mark: str | None = None) -> bytes:
    """Any document of label/value lines (the X and Z reports): the same rules as a receipt.
    `mark`: a line in bold above the title ("COPY" on a reprint)."""
    items = [Row("center", mark, strong=True)] if mark else []
    items += [Row("center", title, strong=True), Row("rule")]
    items += [Row("pair", label, value) if value else Row("text", label) for label, value in lines]
    if rtl:
        from .raster import draw

        return image_bytes(draw(items, columns, rtl=True))
    # The code page that holds the most of its letters (a cashier's name), the language's first.
    preferred = code_page(language)
    text = "".join(row.left + row.right for row in items)

    def lost(page: str) -> int:
        printable = printable_in(page)
        return sum(not printable(ch) for ch in set(text))

    page = min((preferred, *(p for p in FALLBACK_PAGES if p != preferred)), key=lost)
    return text_bytes(items, columns, page)
