"""Text made safe for the page's HTML and SVG: escaped, and without the characters XML
1.0 forbids. Pure.

Strategy: package names and labels are anyone's (a badge's ``label``, a searched name
that is no package), so every text goes through :func:`text` before it is written into
markup, and every attribute through :func:`attribute`. Escaping alone is not enough for
SVG, which is XML: a control character or a lone surrogate makes a document no parser
reads, so those are dropped (never written as references, which XML forbids too).
"""

from __future__ import annotations

import re
from html import escape

#: What XML 1.0 does not allow in a document, even escaped.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def clean(value: str) -> str:
    return _NOT_XML.sub("", value)


def text(value: str) -> str:
    """Character data for HTML or XML (a carriage return as a reference, which XML's
    reading of line ends would otherwise turn into a line feed)."""
    return escape(clean(value), quote=False).replace("\r", "&#13;")


def attribute(value: str) -> str:
    """An attribute's value, to be written between double quotes (tabs and line ends as
    references, which XML would otherwise read as spaces)."""
    return escape(clean(value), quote=True).translate(_ATTRIBUTE_WHITESPACE)


_ATTRIBUTE_WHITESPACE = str.maketrans({"\t": "&#9;", "\n": "&#10;", "\r": "&#13;"})
