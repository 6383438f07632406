"""Capture references in a mapping's name and label values: ``$1``, ``${1}``, ``${name}``
(a regex's named group), ``$0`` (the whole match) and ``$$`` (a dollar). Sans-I/O.

Where statsd_exporter differs: it reads ``$1_total`` as a group named ``1_total``, which
does not exist, and writes nothing for it (Go's ``regexp.Expand``; its README warns to
write ``${1}_total``). Here ``$`` followed by digits is always a group number, so
``$1_total`` is the first capture followed by ``_total``. And a reference to a group the
match does not have is a configuration error, not an empty string at run time.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_REFERENCE = re.compile(r"\$(?:(\$)|(\d+)|\{([^}]*)\})")

#: A parsed template: literal text, and group numbers to put in.
Template = tuple[str | int, ...]


class TemplateError(ValueError):
    pass


def parse_template(text: str, groups: int, named: Mapping[str, int] | None = None) -> Template:
    """``text`` as literal pieces and group numbers; ``groups`` is how many the pattern has
    (0 is the whole match), ``named`` its named groups."""
    pieces: list[str | int] = []
    at = 0
    for found in _REFERENCE.finditer(text):
        _literal(pieces, text[at : found.start()])
        at = found.end()
        dollar, digits, braced = found.groups()
        if dollar:
            _literal(pieces, "$", checked=True)
            continue
        reference = digits if digits is not None else braced
        if reference.isascii() and reference.isdigit():
            index = int(reference)
        elif named and reference in named:
            index = named[reference]
        else:
            raise TemplateError(f"{found.group(0)!r} names no group of the match")
        if index > groups:
            raise TemplateError(f"{found.group(0)!r}: the match has {groups} group(s)")
        pieces.append(index)
    _literal(pieces, text[at:])
    return tuple(pieces)


def _literal(pieces: list[str | int], text: str, checked: bool = False) -> None:
    if "$" in text and not checked:
        raise TemplateError(f"{text!r}: a $ must be followed by a group number, {{name}} or another $")
    if text:
        if pieces and isinstance(pieces[-1], str):
            pieces[-1] += text
        else:
            pieces.append(text)


def expand(template: Template, match: re.Match[str]) -> str:
    """The template with the match's captures put in (a group that matched nothing: empty)."""
    if len(template) == 1 and isinstance(template[0], str):
        return template[0]
    return "".join(piece if isinstance(piece, str) else (match.group(piece) or "") for piece in template)


def literal_text(template: Template) -> str:
    """The template's literal pieces, for checking what they may contain."""
    return "".join(piece for piece in template if isinstance(piece, str))
