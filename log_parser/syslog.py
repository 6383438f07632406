"""Syslog over TCP, as CDNs stream logs: newline framing, or octet counting (RFC 6587:
``LENGTH SP MESSAGE``), told apart per message by whether it starts with a digit. Sans-I/O."""

from __future__ import annotations

_MORE = object()  # a frame is not complete yet
_LINE = object()  # what looked like a length is not one: read a line instead
_REFUSED = object()  # a counted message over the limit, skipped


class SyslogFramer:
    def __init__(self, max_message: int = 64 * 1024) -> None:
        self.max_message = max_message
        self._buffer = b""
        self._skip = 0  # bytes still to discard of a refused counted message
        self.refused = 0  #: messages over max_message, skipped

    def feed(self, data: bytes) -> list[bytes]:
        """The messages completed by ``data``, in order."""
        if self._skip:
            skipped = min(self._skip, len(data))
            data, self._skip = data[skipped:], self._skip - skipped
        self._buffer += data
        messages = []
        while self._buffer:
            frame = self._take_counted() if self._buffer[:1].isdigit() else _LINE
            if frame is _LINE:
                frame = self._take_line()
            if frame is _MORE:
                break
            if isinstance(frame, bytes) and frame:
                messages.append(frame)
        if len(self._buffer) > self.max_message and b"\n" not in self._buffer:
            self.refused += 1  # a line that never ends: drop what we hold of it
            self._buffer = b""
        return messages

    def _take_counted(self) -> object:
        space = self._buffer.find(b" ", 0, 12)
        if space < 0:
            return _LINE if len(self._buffer) >= 12 else _MORE
        token = self._buffer[:space]
        if not token.isdigit():
            return _LINE
        length = int(token)
        if length > self.max_message:
            self.refused += 1
            self._skip = max(0, length - (len(self._buffer) - space - 1))
            self._buffer = self._buffer[space + 1 + length :]
            return _REFUSED
        end = space + 1 + length
        if len(self._buffer) < end:
            return _MORE
        message, self._buffer = self._buffer[space + 1 : end], self._buffer[end:]
        return message.rstrip(b"\n") or b""

    def _take_line(self) -> object:
        end = self._buffer.find(b"\n")
        if end < 0:
            return _MORE
        line, self._buffer = self._buffer[:end], self._buffer[end + 1 :]
        return line.rstrip(b"\r")
