"""The text format's grammar (version 0.0.4), what every name and value on the page must
obey, whatever arrived. Sans-I/O.

Strategy: names are made valid, not refused: a character outside ``[a-zA-Z0-9_]``
becomes ``_`` and a leading digit gets a ``_`` before it, as statsd_exporter escapes
names (colons too: Prometheus keeps them for recording rules). Label values and help
texts are escaped as the format says, and kept valid UTF-8. Numbers are written so that
Prometheus reads back the same float: Python's shortest round-trip ``repr``, and
``NaN``, ``+Inf``, ``-Inf`` spelt as the format spells them.
"""

from __future__ import annotations

import math
import re

#: What the text format takes as a metric name (without the colons Prometheus keeps
#: for recording rules) and as a label name.
NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_NOT_NAME = re.compile(r"[^a-zA-Z0-9_]")
#: Label names Prometheus keeps for itself start with two underscores.
RESERVED_PREFIX = "__"
_SURROGATE = re.compile("[\ud800-\udfff]")


def metric_name(text: str) -> str:
    """``text`` as a valid metric name (empty stays empty: there is no metric then)."""
    if NAME.fullmatch(text):
        return text
    name = _NOT_NAME.sub("_", text)
    return "_" + name if name[:1].isdigit() else name


def label_name(text: str) -> str:
    """``text`` as a valid label name that is not reserved: ``__x`` becomes ``_x``."""
    name = metric_name(text)
    if name.startswith(RESERVED_PREFIX):
        name = "_" + name.lstrip("_")
    return name


def valid_text(text: str) -> str:
    """``text`` as valid UTF-8: a lone surrogate (never from the decoders, but a str may
    hold one) becomes U+FFFD rather than making the page unreadable."""
    if text.isascii():
        return text
    return _SURROGATE.sub("\ufffd", text)


def label_value(text: str) -> str:
    """A label value, escaped for between its double quotes."""
    text = valid_text(text)
    if "\\" in text or '"' in text or "\n" in text:
        text = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return text


def help_text(text: str) -> str:
    """A HELP line's text, escaped (backslash and newline; quotes stay)."""
    text = valid_text(text)
    if "\\" in text or "\n" in text:
        text = text.replace("\\", "\\\\").replace("\n", "\\n")
    return text


def number(value: float) -> str:
    """A sample's value as the format writes it: Prometheus parses it back to ``value``."""
    text = repr(value)
    if text[-1] in "fn":  # inf, -inf, nan
        return "NaN" if math.isnan(value) else ("+Inf" if value > 0 else "-Inf")
    return text


def bound(value: float) -> str:
    """A bucket's ``le`` or a quantile, spelt as Prometheus' Go clients spell them
    (``strconv.FormatFloat(v, 'g', -1, 64)``: ``1``, ``0.005``, ``1e+06``, ``1e-05``), so
    the series of numbatd and of other exporters share label values and aggregate
    together. Both languages write the shortest digits that read back as the float;
    they differ only in when they switch to an exponent (Go from 1e+06, Python from
    1e+16) and in Python's ``.0`` on whole numbers."""
    text = number(value)
    if "e" in text or text[-1] in "fN":
        return text
    if abs(value) >= 1e6:  # Go writes these with an exponent
        sign = "-" if text.startswith("-") else ""
        whole, _, fraction = text.lstrip("-").partition(".")
        digits = (whole + fraction).rstrip("0")
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{mantissa}e+{len(whole) - 1:02d}"
    return text.removesuffix(".0")


def labels_text(labels: tuple[tuple[str, str], ...]) -> str:
    """The inside of the braces: ``a="x",b="y"`` (names already valid)."""
    return ",".join(f'{name}="{label_value(value)}"' for name, value in labels)
