"""Receipt rows drawn as a one-bit image, for the languages a printer's text mode garbles
(Arabic and the other right-to-left scripts): Pillow shapes and orders the text (its wheels bring
libraqm), the printer prints the picture."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from .receipt import Row

DOTS_PER_COLUMN = 12  # font A is 12 dots wide: 32 columns = 384 dots (58 mm), 48 = 576 (80 mm)
SIZE = 22
PAD = 6
# A font with Arabic and Latin letters: DejaVu (Debian's fonts-dejavu-core), else Noto or FreeFont.
FONTS = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/noto/NotoSansArabic-Regular.ttf",
    "/usr/share/fonts/truetype/freefont/FreeSans.ttf",
)
BOLD_FONTS = ("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",)


class NoFont(RuntimeError):
    """No font with right-to-left letters is installed (apt-get install fonts-dejavu-core)."""


@lru_cache(maxsize=4)
def font(bold: bool = False) -> ImageFont.FreeTypeFont:
    for path in (*(BOLD_FONTS if bold else ()), *FONTS):
        if Path(path).is_file():
            return ImageFont.truetype(path, SIZE)
    raise NoFont("no font for right-to-left receipts: install fonts-dejavu-core")


def draw(items: list[Row], columns: int, rtl: bool = True) -> Image.Image:
    """The rows, right to left: a label at the right edge, its value at the left (below it when
    both do not fit on one line)."""
    width = columns * DOTS_PER_COLUMN
    line = SIZE + PAD
    direction = "rtl" if rtl else "ltr"
    start, end = (width - 2, 2) if rtl else (2, width - 2)
    start_anchor, end_anchor = ("ra", "la") if rtl else ("la", "ra")
    # Each printed line: what goes at the start, in the middle and at the end, and a rule.
    lines: list[tuple[str, str, str, bool, bool]] = []
    for row in items:
        face = font(row.strong)
        if row.kind == "rule":
            lines.append(("", "", "", row.strong, True))
        elif row.kind == "center":
            lines.append(("", row.left, "", row.strong, False))
        elif row.kind == "text":
            lines.append((row.left, "", "", row.strong, False))
        elif row.kind == "pair":
            room = width - 4 - face.getlength(row.left, direction=direction) - face.getlength(row.right)
            if room < SIZE:
                lines += [(row.left, "", "", row.strong, False), ("", "", row.right, row.strong, False)]
            else:
                lines.append((row.left, "", row.right, row.strong, False))
        else:
            lines.append(("", "", "", False, False))
    image = Image.new("1", (width, line * len(lines) + 2 * PAD), 1)
    pen = ImageDraw.Draw(image)
    y = PAD
    for at_start, middle, at_end, strong, rule in lines:
        face = font(strong)
        if rule:
            pen.line((2, y + line // 2, width - 2, y + line // 2), fill=0, width=2)
        if middle:
            pen.text((width // 2, y), middle, font=face, fill=0, anchor="ma", direction=direction)
        if at_start:
            pen.text((start, y), at_start, font=face, fill=0, anchor=start_anchor, direction=direction)
        if at_end:
            # Numbers, codes and addresses read left to right inside a right-to-left receipt.
            pen.text((end, y), at_end, font=face, fill=0, anchor=end_anchor)
        y += line
    return image
