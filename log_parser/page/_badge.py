"""A downloads badge as projects put in their READMEs (``/badge/{pkg}/{period}.svg``):
a grey label and a coloured count, in SVG of our own. Pure.

Strategy: each half is as wide as its text, measured by our own width table
(:mod:`._widths`), plus padding; each text is pinned to its measured length
(``textLength``), so the drawing is the same whatever font the viewer has. Counts are
shortened as badges show them, rounding down (``1,999`` is ``1.9k``): a badge never
claims more downloads than there were. Every text is escaped.
"""

from __future__ import annotations

from dataclasses import dataclass

from ._escape import attribute, clean, text
from ._widths import text_width

FONT_SIZE = 11
HEIGHT = 20
PADDING = 6  #: each side of a text
LABEL_COLOUR = "#555"
COUNT_COLOUR = "#007ec6"
MISSING_COLOUR = "#9f9f9f"
MAX_LABEL = 64  #: characters of a label kept (``?label=``); longer ones are cut

#: What a named period adds to the count.
PER_PERIOD = {"last-day": "/day", "last-week": "/week", "last-month": "/month", "last-year": "/year"}
UNITS = ((10**12, "T"), (10**9, "G"), (10**6, "M"), (10**3, "k"))


def short_count(n: int) -> str:
    """``999``, ``1.2k``, ``12k``, ``1.5M``: three figures at most, rounded down."""
    if n < 0:
        raise ValueError("downloads are never negative")
    for size, suffix in UNITS:
        if n >= size:
            tenths = n * 10 // size
            if tenths < 100:
                whole, tenth = divmod(tenths, 10)
                return f"{whole}.{tenth}{suffix}" if tenth else f"{whole}{suffix}"
            return f"{n // size}{suffix}"
    return str(n)


def count_message(downloads: int, period: str) -> str:
    """The badge's right half: ``1.2k/week``, ``3M`` (all-time, a day, a range)."""
    return short_count(downloads) + PER_PERIOD.get(period, "")


@dataclass(frozen=True)
class Badge:
    label: str
    message: str
    colour: str = COUNT_COLOUR

    @property
    def label_width(self) -> float:
        return round(text_width(clean(self.label), FONT_SIZE) + 2 * PADDING, 1)

    @property
    def message_width(self) -> float:
        return round(text_width(clean(self.message), FONT_SIZE) + 2 * PADDING, 1)

    @property
    def width(self) -> float:
        return round(self.label_width + self.message_width, 1)


def badge_svg(badge: Badge) -> str:
    label, message = badge.label, badge.message
    left, right, total = badge.label_width, badge.message_width, badge.width
    label_length = round(left - 2 * PADDING, 1)
    message_length = round(right - 2 * PADDING, 1)
    title = f"{label}: {message}"
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_n(total)}" height="{HEIGHT}" '
        f'viewBox="0 0 {_n(total)} {HEIGHT}" role="img" aria-label="{attribute(title)}">'
        f"<title>{text(title)}</title>"
        f'<rect width="{_n(left)}" height="{HEIGHT}" fill="{LABEL_COLOUR}"/>'
        f'<rect x="{_n(left)}" width="{_n(right)}" height="{HEIGHT}" fill="{attribute(badge.colour)}"/>'
        f'<g fill="#fff" text-anchor="middle" font-family="DejaVu Sans,Verdana,Geneva,sans-serif" '
        f'font-size="{FONT_SIZE}">'
        f'<text class="label" x="{_n(left / 2)}" y="14" textLength="{_n(label_length)}" '
        f'lengthAdjust="spacingAndGlyphs">{text(label)}</text>'
        f'<text class="message" x="{_n(left + right / 2)}" y="14" textLength="{_n(message_length)}" '
        f'lengthAdjust="spacingAndGlyphs">{text(message)}</text>'
        "</g></svg>"
    )


def _n(value: float) -> str:
    """A length to a tenth of a unit, without trailing zeros."""
    return f"{value:.1f}".rstrip("0").rstrip(".")
