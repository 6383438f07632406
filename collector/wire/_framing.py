"""Splitting a byte stream into lines, and the line-length bound. Sans-I/O.

A line cut across two reads is joined exactly once (numbat-collector's JSON stream
emitted such a line twice). A line longer than the limit is refused and counted, and
the stream carries on at the next newline, so one runaway sender cannot make the
collector buffer without bound or drop the good lines after it.

Lines that arrive whole (a datagram, an HTTP body) meet the same bound in
:func:`drop_long_lines`, which the framer uses too: one ``max(map(len, ...))`` per batch,
filtering only when it trips, so the common case costs one pass over the lengths.
"""

from __future__ import annotations


def drop_long_lines(lines: list[bytes], max_line: int) -> tuple[list[bytes], list[bytes]]:
    """``lines`` without those longer than ``max_line``, and those (the same list
    object and no copy when none is too long, the common case)."""
    if not lines or max(map(len, lines)) <= max_line:
        return lines, []
    kept = [line for line in lines if len(line) <= max_line]
    return kept, [line for line in lines if len(line) > max_line]


class LineFramer:
    def __init__(self, max_line: int) -> None:
        if max_line < 1:
            raise ValueError("max_line must be positive")
        self.max_line = max_line
        self._partial = b""
        self._discarding = False  # inside a line already refused for its length

    def feed(self, chunk: bytes) -> tuple[list[bytes], int]:
        """Return the complete lines in ``chunk`` (without newlines) and how many
        lines were refused for their length."""
        if self._discarding:
            end = chunk.find(b"\n")
            if end < 0:
                return [], 0
            chunk = chunk[end + 1 :]
            self._discarding = False
        lines = chunk.split(b"\n")
        if self._partial:  # the line cut at the last read's end: joined to its rest alone
            lines[0] = self._partial + lines[0]
        self._partial = lines.pop()
        lines, long_lines = drop_long_lines(lines, self.max_line)
        refused = len(long_lines)
        if len(self._partial) > self.max_line:
            self._partial = b""
            self._discarding = True
            refused += 1
        return lines, refused

    def finish(self) -> list[bytes]:
        """At the end of the stream: a last line that had no newline."""
        partial, self._partial = self._partial, b""
        if self._discarding:
            self._discarding = False
            return []
        return [partial] if partial.strip() else []
