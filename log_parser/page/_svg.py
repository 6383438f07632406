"""The downloads chart as SVG, drawn on the server: days along x, downloads up y, one
line per package (up to five, compared on one chart). Pure: numbers in, text out.

Strategy: the geometry is a pair of pure functions (:func:`x_of`, :func:`y_of`) over a
:class:`Frame`, so that a test can map every point back to its value; the y axis runs
from 0 to a round ceiling (1, 2 or 5 times a power of ten) at or above the highest
value. Each line has its own colour and its own dash pattern, so lines stay apart for
readers who cannot tell the colours apart. Every text is escaped (package names are
anyone's). The SVG scales to its container (``viewBox``, no fixed width): 375 px wide
phones get the same drawing, smaller. Its text alternative is the table beside it on
the page (``aria-describedby``), and its ``<title>`` and ``<desc>`` say what it shows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from ._escape import attribute, text

#: Colour and dash pattern of each compared package's line, in order.
STYLES = (
    ("#1f6feb", ""),
    ("#d1242f", "6 3"),
    ("#1a7f37", "2 3"),
    ("#8250df", "8 3 2 3"),
    ("#bc4c00", "1 2"),
)
Y_TICKS = 4  #: gridlines above 0


@dataclass(frozen=True)
class Series:
    """One package's downloads, one value per day of the chart."""

    name: str
    values: Sequence[int]


@dataclass(frozen=True)
class Frame:
    """The drawing's size in SVG units and the plot's margins within it."""

    width: float = 640
    height: float = 280
    left: float = 64
    right: float = 12
    top: float = 12
    bottom: float = 40

    @property
    def plot_width(self) -> float:
        return self.width - self.left - self.right

    @property
    def plot_height(self) -> float:
        return self.height - self.top - self.bottom


def ceiling(highest: int) -> int:
    """The top of the y axis: the least of 1, 2, 3, 4, 5, 6 or 8 times a power of ten at
    or above ``highest`` (1 at least, so that an empty chart still has an axis): the line
    fills most of the height, and the quarters between gridlines stay round numbers."""
    if highest <= 1:
        return 1
    power: int = 10 ** (len(str(highest)) - 1)
    return next(step * power for step in (1, 2, 3, 4, 5, 6, 8, 10) if step * power >= highest)


def x_of(index: int, count: int, frame: Frame) -> float:
    """The x of the ``index``-th of ``count`` days: the first at the plot's left edge,
    the last at its right edge (one day alone, in the middle)."""
    if count == 1:
        return frame.left + frame.plot_width / 2
    return frame.left + frame.plot_width * index / (count - 1)


def y_of(value: float, top: int, frame: Frame) -> float:
    """The y of ``value`` on an axis from 0 (the plot's bottom edge) to ``top``."""
    return frame.top + frame.plot_height * (1 - value / top)


def value_at(y: float, top: int, frame: Frame) -> float:
    """The inverse of :func:`y_of`: what a point at ``y`` stands for."""
    return top * (1 - (y - frame.top) / frame.plot_height)


def _number(value: float) -> str:
    """A coordinate, to two decimals (a hundredth of a unit is far below a pixel)."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def grouped(n: int) -> str:
    """1234567 as ``1,234,567``: the page's numbers."""
    return f"{n:,}"


def line_chart(
    days: Sequence[dt.date], series: Sequence[Series], *, chart_id: str = "chart", frame: Frame = Frame()
) -> str:
    """The chart of ``series`` over ``days`` (each series has one value per day)."""
    if not days:
        raise ValueError("a chart needs one day at least")
    for one in series:
        if len(one.values) != len(days):
            raise ValueError(f"{one.name}: {len(one.values)} values for {len(days)} days")
        if any(v < 0 for v in one.values):
            raise ValueError(f"{one.name}: downloads are never negative")
    if len(series) > len(STYLES):
        raise ValueError(f"at most {len(STYLES)} packages on one chart")
    top = ceiling(max((max(one.values) for one in series), default=0))
    names = ", ".join(one.name for one in series) or "no package"
    title = f"Downloads per day of {names}, {days[0].isoformat()} to {days[-1].isoformat()}"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_number(frame.width)} {_number(frame.height)}" '
        f'class="chart" id="{attribute(chart_id)}" role="img" data-top="{top}" '
        f'aria-labelledby="{attribute(chart_id)}-title" aria-describedby="{attribute(chart_id)}-table">',
        f'<title id="{attribute(chart_id)}-title">{text(title)}</title>',
        f"<desc>A line per package; the same numbers are in the table {text(chart_id)}-table.</desc>",
    ]
    parts += _axes(days, top, frame)
    for number, one in enumerate(series):
        colour, dashes = STYLES[number]
        points = " ".join(
            f"{_number(x_of(i, len(days), frame))},{_number(y_of(v, top, frame))}" for i, v in enumerate(one.values)
        )
        dash = f' stroke-dasharray="{dashes}"' if dashes else ""
        parts.append(
            f'<polyline class="series" data-package="{attribute(one.name)}" points="{points}" fill="none" '
            f'stroke="{colour}" stroke-width="2"{dash} stroke-linejoin="round"/>'
        )
        if len(days) == 1:  # a line of one point draws nothing: mark it
            parts.append(
                f'<circle cx="{_number(x_of(0, 1, frame))}" cy="{_number(y_of(one.values[0], top, frame))}" '
                f'r="3" fill="{colour}"/>'
            )
    parts.append("</svg>")
    return "".join(parts)


def _axes(days: Sequence[dt.date], top: int, frame: Frame) -> list[str]:
    parts = ['<g class="axes" font-size="11" fill="#57606a" stroke="none">']
    for tick in range(Y_TICKS + 1):
        value = top * tick / Y_TICKS
        y = _number(y_of(value, top, frame))
        parts.append(
            f'<line x1="{_number(frame.left)}" x2="{_number(frame.width - frame.right)}" y1="{y}" y2="{y}" '
            f'stroke="#d0d7de" stroke-width="1"/>'
        )
        parts.append(
            f'<text class="y-label" x="{_number(frame.left - 6)}" y="{y}" text-anchor="end" '
            f'dominant-baseline="middle">{text(_short(value))}</text>'
        )
    label_y = _number(frame.height - frame.bottom + 16)
    for index in sorted({0, (len(days) - 1) // 2, len(days) - 1}):
        x = x_of(index, len(days), frame)
        anchor = "start" if index == 0 and len(days) > 1 else "end" if index == len(days) - 1 and index else "middle"
        parts.append(
            f'<text class="x-label" x="{_number(x)}" y="{label_y}" text-anchor="{anchor}">'
            f"{days[index].isoformat()}</text>"
        )
    parts.append("</g>")
    return parts


def _short(value: float) -> str:
    """An axis label: 1500 as ``1.5k``, 2000000 as ``2M``."""
    if value == 0:
        return "0"
    for size, suffix in ((10**9, "G"), (10**6, "M"), (10**3, "k")):
        if abs(value) >= size:
            return f"{value / size:.3g}{suffix}"
    return f"{value:.3g}" if not float(value).is_integer() else str(int(value))
