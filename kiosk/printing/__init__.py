"""Receipts on paper: the layout (32 or 48 columns), ESC/POS commands (text in the printer's
code page, an image for right-to-left languages, a cut), the printers, and print jobs on the
kiosk's queue. No Flask."""

from .jobs import MODES, NoPrinter, Print, Prints, Retry, TooMany
from .printers import Printer, PrinterDown, parse
from .receipt import Receipt, Shop, from_sale

__all__ = ["MODES", "NoPrinter", "Print", "Printer", "PrinterDown", "Prints", "Receipt", "Retry", "Shop",
           "TooMany", "from_sale", "parse"]
