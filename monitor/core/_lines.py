"""The child's output as lines for events: split, bounded, and fitted to an event.

Strategy: the pipe's bytes arrive in chunks of any size; :class:`LineSplitter` cuts them
at ``\\n`` and keeps at most ``max_bytes`` of a line that has not ended yet, discarding
the rest of an over-long line (marked ``truncated``), so memory is bounded however long
a line is. :func:`line_text` turns a line's bytes into the text an event carries: a
``\\r`` before the newline dropped, UTF-8 decoded (bad bytes replaced), and cut so that
its JSON encoding, escapes included, is at most ``max_json_bytes``: the emitter drops an
event larger than a datagram, so the bound is on what travels. :func:`last_output` is
the tail of the output a start warning carries, bounded the same way.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import orjson


@dataclass(frozen=True, slots=True)
class Line:
    """One line of output, without its newline; ``truncated`` when it was longer than the bound."""

    data: bytes
    truncated: bool = False


class LineSplitter:
    """Bytes in, whole lines out; at most ``max_bytes`` held for the line in progress."""

    __slots__ = ("_overflowed", "_partial", "max_bytes")

    def __init__(self, max_bytes: int) -> None:
        if max_bytes < 1:
            raise ValueError(f"max_bytes must be at least 1, got {max_bytes}")
        self.max_bytes = max_bytes
        self._partial = bytearray()
        self._overflowed = False  # the line in progress was longer than max_bytes

    def feed(self, data: bytes) -> list[Line]:
        """The lines that ``data`` ends (the start of each may have come in earlier chunks)."""
        lines: list[Line] = []
        start = 0
        while True:
            end = data.find(b"\n", start)
            if end < 0:
                self._keep(data, start, len(data))
                return lines
            self._keep(data, start, end)
            lines.append(Line(bytes(self._partial), self._overflowed))
            self._partial.clear()
            self._overflowed = False
            start = end + 1

    def finish(self) -> list[Line]:
        """At the end of the stream: the last line, if it had no newline."""
        if not self._partial and not self._overflowed:
            return []
        line = Line(bytes(self._partial), self._overflowed)
        self._partial.clear()
        self._overflowed = False
        return [line]

    def _keep(self, data: bytes, start: int, end: int) -> None:
        room = self.max_bytes - len(self._partial)
        if end - start > room:
            self._overflowed = True
            end = start + room
        self._partial += data[start:end]


def json_size(text: str) -> int:
    """Bytes ``text`` takes as a JSON string, quotes and escapes included."""
    return len(orjson.dumps(text))


def fit_json(text: str, max_json_bytes: int) -> tuple[str, bool]:
    """The longest start of ``text`` whose JSON encoding takes at most ``max_json_bytes``,
    and whether it is shorter than ``text``. A character takes 1 to 6 bytes as JSON (an
    escaped control character, a CJK character), so the cut is found by bisection: a
    dozen encodings of a line at most."""
    if json_size(text) <= max_json_bytes:
        return text, False
    fits, too_long = 0, len(text)  # text[:fits] fits, text[:too_long] does not
    while too_long - fits > 1:
        middle = (fits + too_long) // 2
        if json_size(text[:middle]) <= max_json_bytes:
            fits = middle
        else:
            too_long = middle
    return text[:fits], True


def line_text(line: Line, max_json_bytes: int) -> tuple[str, bool]:
    """The text of ``line`` for its event, and whether it was cut (by the splitter or here)."""
    data = line.data
    if data.endswith(b"\r") and not line.truncated:
        data = data[:-1]
    if line.truncated:
        data = _whole_utf8(data)
    text, cut = fit_json(data.decode("utf-8", "replace"), max_json_bytes)
    return text, cut or line.truncated


def _whole_utf8(data: bytes) -> bytes:
    """``data`` less a UTF-8 sequence cut short at its end (the splitter cuts by bytes)."""
    for back in range(1, min(4, len(data)) + 1):
        byte = data[-back]
        if byte < 0x80:  # ASCII: nothing cut
            return data
        if byte >= 0xC0:  # the lead byte of a sequence: is it whole?
            length = 2 if byte < 0xE0 else 3 if byte < 0xF0 else 4
            return data if back >= length else data[:-back]
    return data


def last_output(lines: Iterable[str], max_json_bytes: int) -> str:
    """The last of ``lines``, joined by newlines, as many whole ones as fit in
    ``max_json_bytes`` of JSON; when not even the last one fits, its end."""
    kept: list[str] = []
    for line in reversed(list(lines)):
        candidate = "\n".join([line, *kept])
        if json_size(candidate) > max_json_bytes:
            if not kept:  # the last line alone is too long: its end, which is what just happened
                return _fit_end(line, max_json_bytes)
            break
        kept.insert(0, line)
    return "\n".join(kept)


def _fit_end(text: str, max_json_bytes: int) -> str:
    """The longest end of ``text`` whose JSON encoding takes at most ``max_json_bytes``."""
    fits, too_long = len(text), 0  # text[fits:] fits, text[too_long:] does not
    while fits - too_long > 1:
        middle = (fits + too_long) // 2
        if json_size(text[middle:]) <= max_json_bytes:
            fits = middle
        else:
            too_long = middle
    return text[fits:]
