"""How wide a text is in the badge's font: our own table of advance widths, so a badge
is sized on the server without a font file or a browser.

Strategy: the widths of the printable ASCII characters in DejaVu Sans (the font Debian
ships, first in the badge's font list), in thousandths of an em, measured once in
Debian's Chromium (``CanvasRenderingContext2D.measureText`` at 11 px, rounded). Outside
ASCII: East Asian wide and full-width characters take a whole em, combining marks none,
anything else :data:`OTHER` (wider than most letters, so a text errs towards room to
spare). The badge also gives each text its measured length (SVG ``textLength``), so a
viewer whose font differs (Verdana on another system) fits the text to the same box.
"""

from __future__ import annotations

import unicodedata

#: Advance widths of chr(32) to chr(126), thousandths of an em.
ASCII = (
    318, 401, 460, 838, 636, 950, 780, 275, 390, 390, 500, 838, 318, 361, 318, 337,
    636, 636, 636, 636, 636, 636, 636, 636, 636, 636, 337, 337, 838, 838, 838, 531,
    1000, 684, 686, 698, 770, 632, 575, 775, 752, 295, 295, 656, 557, 863, 748, 787,
    603, 787, 695, 635, 611, 732, 684, 989, 685, 611, 685, 390, 337, 390, 838, 500,
    500, 613, 635, 550, 635, 615, 352, 635, 634, 278, 278, 579, 278, 974, 634, 612,
    635, 635, 411, 521, 392, 634, 592, 818, 592, 592, 525, 636, 337, 636, 838,
)  # fmt: skip
WIDE = 1000
OTHER = 700


def char_width(char: str) -> int:
    """One character's advance, thousandths of an em (control characters: none)."""
    code = ord(char)
    if 32 <= code < 127:
        return ASCII[code - 32]
    if code < 32 or code == 127 or unicodedata.combining(char):
        return 0
    if unicodedata.east_asian_width(char) in ("W", "F"):
        return WIDE
    return OTHER


def text_width(text: str, font_size: float) -> float:
    """The width of ``text`` at ``font_size`` px, in px."""
    return sum(char_width(char) for char in text) * font_size / 1000
