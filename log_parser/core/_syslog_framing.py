"""Syslog over TCP, as CDNs stream logs: bytes of a connection in, messages out. Sans-I/O.

Strategy: RFC 6587 allows two framings on one connection, told apart per message by its
first byte: octet counting (``LENGTH SP MESSAGE``) when it is a digit, newline framing (a
message ends at LF; CRs before it are dropped) otherwise. The buffer holds at most one
unfinished message. A message longer than ``max_message`` (not counting its octet count,
or the LF and one CR that end a line) is never held whole: an octet-counted one is skipped
by its length as its bytes arrive, a newline-framed one is dropped once the buffer passes
the bound and its bytes are skipped up to its LF; either way it is counted once, in
:attr:`SyslogFramer.refused`, and the messages beside it are kept. A newline-framed line
of the connection's last bytes, with no LF after it, is not a message (the sender was cut
off) and is never handed out.
"""

from __future__ import annotations

#: Digits an octet count may have before its space: more is no count (a line, then).
MAX_COUNT_DIGITS = 11


class SyslogFramer:
    """One connection's framing state."""

    def __init__(self, max_message: int = 64 * 1024) -> None:
        if max_message < 1:
            raise ValueError("max_message must be at least 1")
        self.max_message = max_message
        self.refused = 0  #: messages longer than max_message, skipped
        self._buffer = b""
        self._skip_bytes = 0  #: bytes still to skip of a refused octet-counted message
        self._skip_line = False  #: skipping a refused newline-framed message up to its LF

    def feed(self, data: bytes) -> list[bytes]:
        """The messages completed by ``data``, in order (none of them empty)."""
        buffer = self._buffer + data if self._buffer else data
        messages: list[bytes] = []
        at = 0
        waiting_for_line = False  # the unfinished message, if any, is newline-framed
        while at < len(buffer):
            if self._skip_bytes:
                skipped = min(self._skip_bytes, len(buffer) - at)
                self._skip_bytes -= skipped
                at += skipped
                continue
            if self._skip_line:
                end = buffer.find(b"\n", at)
                if end < 0:
                    at = len(buffer)
                    break
                self._skip_line, at = False, end + 1
                continue
            counted = self._counted(buffer, at) if buffer[at : at + 1].isdigit() else None
            if counted is None:
                at, message = self._line(buffer, at)
            else:
                at, message = counted
            if at < 0:  # the message is not whole yet
                at, waiting_for_line = -at - 1, counted is None
                break
            if message:
                messages.append(message)
        self._buffer = buffer[at:]
        if waiting_for_line and len(self._buffer) > self.max_message + 1:  # past the bound and a CR, no LF yet
            self.refused += 1
            self._buffer, self._skip_line = b"", True
        return messages

    def _counted(self, buffer: bytes, at: int) -> tuple[int, bytes] | None:
        """An octet-counted message at ``at``: (where the next one starts, the message);
        ``-at - 1`` first when it is not whole yet; None when ``at`` starts no count."""
        space = buffer.find(b" ", at, at + MAX_COUNT_DIGITS + 1)
        if space < 0:
            return None if len(buffer) - at > MAX_COUNT_DIGITS else (-at - 1, b"")
        count = buffer[at:space]
        if not count.isdigit():
            return None
        length, start = int(count), space + 1
        if length > self.max_message:
            self.refused += 1
            skipped = min(length, len(buffer) - start)
            self._skip_bytes = length - skipped
            return start + skipped, b""
        end = start + length
        if len(buffer) < end:
            return -at - 1, b""
        return end, buffer[start:end].rstrip(b"\n")

    def _line(self, buffer: bytes, at: int) -> tuple[int, bytes]:
        """A newline-framed message at ``at``: (where the next one starts, the message),
        ``-at - 1`` first when its LF has not come yet; a refused one is b""."""
        end = buffer.find(b"\n", at)
        if end < 0:
            return -at - 1, b""
        size = end - at - (buffer[end - 1 : end] == b"\r")  # the CR before the LF is framing
        if size > self.max_message:
            self.refused += 1
            return end + 1, b""
        return end + 1, buffer[at:end].rstrip(b"\r")
