"""Splitting a byte stream into lines. Sans-I/O.

A line cut across two reads is joined exactly once (numbat-collector's JSON stream
emitted such a line twice). A line longer than the limit is refused and counted, and
the stream carries on at the next newline, so one runaway sender cannot make the
collector buffer without bound or drop the good lines after it.
"""

from __future__ import annotations


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
        data = self._partial + chunk if self._partial else chunk
        lines = data.split(b"\n")
        self._partial = lines.pop()
        refused = 0
        if lines and max(map(len, lines)) > self.max_line:
            kept = [line for line in lines if len(line) <= self.max_line]
            refused = len(lines) - len(kept)
            lines = kept
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
