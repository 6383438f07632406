"""One TCP connection to carbon: writes, what its TCP has acknowledged, and how it ended.

Carbon never writes on a metrics connection, so whatever arrives on it says the
connection is over: end of stream (carbon closed it, as it does when it stops or after
reading our own end of stream) or a reset. :meth:`Connection.watch` waits for that in a
task of its own; :meth:`Connection.finish` sends our end of stream and waits for carbon's,
which carbon sends once it has read everything before it. How many of our bytes carbon's
TCP has acknowledged comes from the kernel (SIOCOUTQ, Linux): what is still in our send
queue was not.
"""

from __future__ import annotations

import fcntl
import struct
import termios

import trio

_INT = struct.Struct("i")


class Connection:
    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.sent = 0  #: bytes written so far
        self.ended = trio.Event()  #: set once carbon closed or reset it (or we closed it)
        self.clean_end = False  #: carbon sent end of stream, nothing else
        self.ending = ""  #: how it ended, in an operator's words
        self.finishing = False  #: we sent our end of stream: carbon's is the answer

    @classmethod
    async def open(cls, host: str, port: int, timeout: float) -> Connection:
        """Raises OSError or trio.TooSlowError."""
        with trio.fail_after(timeout):
            return cls(await trio.open_tcp_stream(host, port))

    async def send(self, body: bytes, timeout: float) -> None:
        """Raises OSError, trio.BrokenResourceError, trio.ClosedResourceError or trio.TooSlowError."""
        with trio.fail_after(timeout):
            await self.stream.send_all(body)
        self.sent += len(body)

    def acknowledged(self) -> int:
        """Bytes written that carbon's TCP has acknowledged (all of them where the kernel cannot say)."""
        try:
            answer = fcntl.ioctl(self.stream.socket.fileno(), termios.TIOCOUTQ, _INT.pack(0))
        except (OSError, ValueError):
            return self.sent
        unacknowledged: int = _INT.unpack(answer)[0]
        return self.sent - unacknowledged

    async def watch(self) -> None:
        """Wait until carbon ends the connection (or we close it), then set :attr:`ended`."""
        try:
            data = await self.stream.receive_some(4096)
        except trio.ClosedResourceError:
            self.ending = "closed"
        except (trio.BrokenResourceError, OSError) as exc:
            self.ending = f"connection reset ({exc.__cause__ or exc})"
        else:
            self.clean_end = not data
            self.ending = "carbon closed the connection" if not data else "carbon wrote on the connection"
        self.ended.set()

    async def finish(self, timeout: float) -> bool:
        """Send our end of stream and wait (at most ``timeout``) for carbon's, which it
        sends once it has read all we wrote: whether it came, cleanly. Needs
        :meth:`watch` running."""
        self.finishing = True
        try:
            with trio.fail_after(timeout):
                await self.stream.send_eof()
                await self.ended.wait()
        except (OSError, trio.BrokenResourceError, trio.ClosedResourceError, trio.TooSlowError):
            return False
        return self.clean_end

    def close(self) -> None:
        """At once, without waiting; a task blocked writing or watching is woken."""
        self.stream.socket.close()
