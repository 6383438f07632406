"""With ``--logs``: the child's stdout and stderr copied through, and their lines handed on.

One pump (a thread) per stream: it reads what the child wrote to its pipe, writes the
same bytes to numbat-run's own stdout or stderr before anything else (so the output is
passed through byte for byte, and as promptly as the child wrote it), then hands the
chunk's lines to ``on_lines``. A full pipe downstream blocks the pump, which blocks the
child, as if it wrote there itself; a closed one (EPIPE) makes the pump close the child's
pipe, so the child gets the EPIPE (or SIGPIPE) it would have had without numbat-run.
"""

from __future__ import annotations

import os
import select
import threading
from collections.abc import Callable
from typing import BinaryIO

from .core import Line, LineSplitter

#: Bytes read from a pipe at once.
CHUNK = 65_536


class OutputPump:
    def __init__(
        self,
        stream: str,
        source: BinaryIO,
        destination: int,
        max_line_bytes: int,
        on_lines: Callable[[str, list[Line]], None],
    ) -> None:
        self.stream = stream  #: "stdout" or "stderr"
        self._source = source  # the pump owns it, and closes it
        self._destination = destination
        self._splitter = LineSplitter(max_line_bytes)
        self._on_lines = on_lines
        self.errors = 0  #: failures of on_lines (bugs), survived
        self.thread = threading.Thread(target=self._pump, name=f"numbat-run {stream}", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def join(self, timeout: float) -> bool:
        """Wait until the child's end of the pipe is closed (by it and by every process it
        started) and the last line is handed on; False if that did not happen in time."""
        self.thread.join(timeout)
        return not self.thread.is_alive()

    def _pump(self) -> None:
        copying = True
        try:
            while True:
                try:
                    data = os.read(self._source.fileno(), CHUNK)
                except InterruptedError:
                    continue
                if not data:
                    break
                if copying and not self._copy(data):
                    copying = False
                    break
                self._hand_on(self._splitter.feed(data))
        except OSError:
            pass
        finally:
            self._hand_on(self._splitter.finish())
            self._source.close()

    def _copy(self, data: bytes) -> bool:
        """All of ``data`` to the destination; False when it is closed or unusable."""
        view = memoryview(data)
        while view:
            try:
                written = os.write(self._destination, view)
            except BlockingIOError:  # a destination someone made non-blocking
                select.select([], [self._destination], [], 1.0)
                continue
            except InterruptedError:
                continue
            except OSError:
                return False
            view = view[written:]
        return True

    def _hand_on(self, lines: list[Line]) -> None:
        if not lines:
            return
        try:
            self._on_lines(self.stream, lines)
        except Exception:  # a bug of ours must not stop the copying
            self.errors += 1
