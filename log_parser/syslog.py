"""Syslog over TCP, as CDNs stream logs: newline framing, or octet counting (RFC 6587:
``LENGTH SP MESSAGE``), told apart per message by whether it starts with a digit. Sans-I/O."""

from __future__ import annotations


class SyslogFramer:
    def __init__(self, max_message: int = 64 * 1024) -> None:
        self.max_message = max_message
        self._buffer = b""
        self._skip = 0  # bytes still to discard of a refused octet-counted message
        self.refused = 0  #: messages over max_message, skipped

    def feed(self, data: bytes) -> list[bytes]:
        if self._skip:
            skipped = min(self._skip, len(data))
            data, self._skip = data[skipped:], self._skip - skipped
        self._buffer += data
        messages = []
        while self._buffer:
            head = self._buffer[:1]
            if head.isdigit():
                space = self._buffer.find(b" ", 0, 12)
                if space < 0:
                    if len(self._buffer) >= 12:  # not a length after all: read it as a line
                        message = self._take_line()
                        if message is None:
                            break
                        messages.append(message)
                        continue
                    break
                token = self._buffer[:space]
                if not token.isdigit():  # "0x..." or "4 is a number": a line, not a length
                    message = self._take_line()
                    if message is None:
                        break
                    messages.append(message)
                    continue
                length = int(token)
                if length > self.max_message:
                    self.refused += 1
                    available = len(self._buffer) - space - 1
                    self._skip = max(0, length - available)
                    self._buffer = self._buffer[space + 1 + length :]
                    continue
                end = space + 1 + length
                if len(self._buffer) < end:
                    break
                messages.append(self._buffer[space + 1 : end].rstrip(b"\n"))
                self._buffer = self._buffer[end:]
            else:
                message = self._take_line()
                if message is None:
                    break
                if message:
                    messages.append(message)
        if len(self._buffer) > self.max_message and b"\n" not in self._buffer:
            self.refused += 1
            self._buffer = b""
        return messages

    def _take_line(self) -> bytes | None:
        end = self._buffer.find(b"\n")
        if end < 0:
            return None
        line, self._buffer = self._buffer[:end], self._buffer[end + 1 :]
        return line.rstrip(b"\r")
