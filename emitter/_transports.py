"""Blocking transports, used only from the emitter's own thread.

Each one opens, sends a buffer of newline-terminated lines, and closes. A failed send
raises :class:`SendFailed` saying where the first line that did not get through
starts, so the sender keeps the rest and retries it, in order, once reconnected.
"""

from __future__ import annotations

import base64
import select
import socket
import time
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from ._uri import Destination
from ._wire import DEFAULT_DATAGRAM_SIZE, LOOPBACK_DATAGRAM_SIZE, MAX_DATAGRAM_SIZE, pack_datagrams

if TYPE_CHECKING:
    import http.client


class SendFailed(Exception):
    """The transport broke while sending; the lines before byte ``resume_at`` got through."""

    def __init__(self, resume_at: int, reason: str) -> None:
        super().__init__(reason)
        self.resume_at = resume_at


class Rejected(Exception):
    """The receiver refused the batch as bad input; retrying it would fail again."""


class Transport(ABC):
    @abstractmethod
    def open(self) -> None:
        """Connect; raise OSError when the destination cannot be reached."""

    @abstractmethod
    def send(self, data: bytes) -> int:
        """Deliver the lines in ``data`` in order; return how many were too large to send at all."""

    @abstractmethod
    def close(self) -> None: ...

    @property
    @abstractmethod
    def is_open(self) -> bool: ...


class StreamTransport(Transport):
    """TCP or a unix stream socket: newline-delimited lines, written in large chunks."""

    def __init__(self, destination: Destination, connect_timeout: float, send_timeout: float) -> None:
        self.destination = destination
        self.connect_timeout = connect_timeout
        self.send_timeout = send_timeout
        self._sock: socket.socket | None = None

    @property
    def is_open(self) -> bool:
        return self._sock is not None

    def open(self) -> None:
        if self.destination.transport == "unix":
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(self.connect_timeout)
            try:
                sock.connect(self.destination.address)
            except OSError:
                sock.close()
                raise
        else:
            sock = socket.create_connection(self.destination.inet_address, timeout=self.connect_timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # we batch ourselves
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        sock.settimeout(self.send_timeout)
        self._sock = sock

    def send(self, data: bytes) -> int:
        sock = self._sock
        if sock is None:
            raise SendFailed(0, "not connected")
        if self._peer_has_closed(sock):
            # Writing now would be accepted by the kernel and then lost to a reset.
            raise SendFailed(0, "the collector closed the connection")
        view = memoryview(data)
        sent = 0
        try:
            while sent < len(view):
                sent += sock.send(view[sent:])
        except OSError as exc:
            # A line cut in the middle is sent again whole; the collector drops the torn part.
            raise SendFailed(data.rfind(b"\n", 0, sent) + 1, f"send failed: {exc}") from None
        return 0

    @staticmethod
    def _peer_has_closed(sock: socket.socket) -> bool:
        # A socket with a timeout waits for readability inside recv() even with
        # MSG_DONTWAIT, so ask poll() first, without waiting (select() fails past fd 1023).
        poller = select.poll()
        poller.register(sock, select.POLLIN)
        if not poller.poll(0):
            return False
        try:
            data = sock.recv(4096, socket.MSG_PEEK)
        except OSError:
            return True
        if data:
            sock.recv(len(data))  # numbat collectors never answer; discard whatever this is
            return False
        return True

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


class DatagramTransport(Transport):
    """UDP: lines packed into datagrams of at most ``datagram_size`` bytes; when it is
    None, chosen once the address is known: :data:`LOOPBACK_DATAGRAM_SIZE` to a loopback
    address, else :data:`DEFAULT_DATAGRAM_SIZE`."""

    def __init__(
        self, destination: Destination, datagram_size: int | None, send_timeout: float, *, trailing_newline: bool = True
    ) -> None:
        self.destination = destination
        self.configured_size = datagram_size
        self.datagram_size = datagram_size or DEFAULT_DATAGRAM_SIZE
        self.send_timeout = send_timeout
        self._trim = 0 if trailing_newline else 1
        self._sock: socket.socket | None = None
        self._address: tuple[Any, ...] = ()

    @property
    def is_open(self) -> bool:
        return self._sock is not None

    def open(self) -> None:
        host, port = self.destination.inet_address
        family, _, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0]
        sock = socket.socket(family, socket.SOCK_DGRAM)
        # Non-blocking, and send() waits for room itself: a socket with a timeout would
        # poll() before every sendto(), a system call and a GIL hand-over per datagram
        # for a buffer that is almost never full.
        sock.setblocking(False)
        self._sock, self._address = sock, address
        if self.configured_size is None:
            self.datagram_size = LOOPBACK_DATAGRAM_SIZE if _is_loopback(family, address) else DEFAULT_DATAGRAM_SIZE

    def send(self, data: bytes) -> int:
        sock = self._sock
        if sock is None:
            raise SendFailed(0, "not open")
        sent = oversize = 0
        trim, address = self._trim, self._address
        for datagram in pack_datagrams(data, self.datagram_size):
            if len(datagram) - trim > MAX_DATAGRAM_SIZE:
                oversize += 1  # only ever one line: pack_datagrams puts long lines alone
            else:
                try:
                    sock.sendto(datagram[: len(datagram) - trim], address)
                except BlockingIOError:
                    self._send_when_room(sock, datagram[: len(datagram) - trim], sent)
                except OSError as exc:
                    raise SendFailed(sent, f"sendto failed: {exc}") from None
            sent += len(datagram)
        return oversize

    def _send_when_room(self, sock: socket.socket, datagram: memoryview, sent: int) -> None:
        """A full send buffer paces us instead of losing datagrams: wait for room, for
        ``send_timeout`` seconds at most (then :class:`SendFailed`, from ``sent``)."""
        deadline = time.monotonic() + self.send_timeout
        poller = select.poll()
        poller.register(sock, select.POLLOUT)
        while (left := deadline - time.monotonic()) > 0:
            poller.poll(left * 1000)
            try:
                sock.sendto(datagram, self._address)
            except BlockingIOError:
                continue
            except OSError as exc:
                raise SendFailed(sent, f"sendto failed: {exc}") from None
            return
        raise SendFailed(sent, f"sendto failed: no room in the send buffer for {self.send_timeout:g} s")

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def _is_loopback(family: int, address: tuple[Any, ...]) -> bool:
    host = address[0]
    if family == socket.AF_INET:
        return bool(host.startswith("127."))
    return bool(host == "::1" or host.startswith("::ffff:127."))


class HttpTransport(Transport):
    """POSTs of newline-delimited JSON batches, for places without raw sockets.

    http.client and ssl are imported when one is first used: together they are
    about 6 MB of a process's memory, which a service sending over UDP or TCP (or
    numbat-run, held to 20 MB) should not pay for."""

    RETRYABLE = frozenset({408, 425, 429})

    def __init__(self, destination: Destination, connect_timeout: float, send_timeout: float) -> None:
        self.destination = destination
        self.timeout = max(connect_timeout, send_timeout)
        self.headers = {"Content-Type": "application/x-ndjson"}
        parts = urlsplit(destination.uri)
        if parts.username is not None:
            credentials = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
            self.headers["Authorization"] = "Basic " + base64.b64encode(credentials.encode()).decode()
        self._connection: http.client.HTTPConnection | None = None

    @property
    def is_open(self) -> bool:
        return self._connection is not None

    def open(self) -> None:
        import http.client  # noqa: PLC0415 - see the class's docstring

        host, port = self.destination.host or "", self.destination.port
        connection: http.client.HTTPConnection
        if self.destination.secure:
            import ssl  # noqa: PLC0415 - see the class's docstring

            connection = http.client.HTTPSConnection(
                host, port, timeout=self.timeout, context=ssl.create_default_context()
            )
        else:
            connection = http.client.HTTPConnection(host, port, timeout=self.timeout)
        connection.connect()
        self._connection = connection

    def send(self, data: bytes) -> int:
        import http.client  # noqa: PLC0415 - see the class's docstring

        connection = self._connection
        if connection is None:
            raise SendFailed(0, "not connected")
        try:
            connection.request("POST", self.destination.path or "/", body=bytes(data), headers=self.headers)
            response = connection.getresponse()
            detail = response.read(512).decode("utf-8", "replace").strip()
            response.read()  # drain, so the connection can be reused
        except (OSError, http.client.HTTPException) as exc:
            raise SendFailed(0, f"POST failed: {exc!r}") from None
        status = response.status
        if 200 <= status < 300:
            return 0
        reason = f"POST answered {status} {response.reason}: {detail}"
        if status >= 500 or status in self.RETRYABLE:
            raise SendFailed(0, reason)
        raise Rejected(reason)

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
