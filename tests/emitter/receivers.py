"""Minimal real collectors on 127.0.0.1 for the emitter's tests: they record exactly
what arrived on the wire, so the tests can check framing as well as content."""

from __future__ import annotations

import contextlib
import http.server
import os
import socket
import threading

import orjson


class StreamReceiver:
    """A TCP or unix stream listener that can be stopped and started again on the same address."""

    def __init__(self, family: int = socket.AF_INET, address: object = ("127.0.0.1", 0)) -> None:
        self.family = family
        self.address = address
        self.lines: list[bytes] = []
        self.connections = 0
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._clients: list[socket.socket] = []
        self._threads: list[threading.Thread] = []

    @property
    def events(self) -> list[dict]:
        with self._lock:
            return [orjson.loads(line) for line in self.lines]

    @property
    def uri(self) -> str:
        if self.family == socket.AF_UNIX:
            return f"unix://{self.address}"
        host, port = self.address  # type: ignore[misc]
        return f"tcp://{host}:{port}"

    def start(self) -> StreamReceiver:
        listener = socket.socket(self.family, socket.SOCK_STREAM)
        if self.family != socket.AF_UNIX:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        elif isinstance(self.address, str) and os.path.exists(self.address):
            os.unlink(self.address)
        listener.bind(self.address)
        listener.listen(16)
        self.address = listener.getsockname()
        self._listener = listener
        self._spawn(self._accept, listener)
        return self

    def stop(self) -> None:
        """Close the listener and every connection, as a collector that exits would."""
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        for client in self._clients:
            with contextlib.suppress(OSError):
                client.shutdown(socket.SHUT_RDWR)
            client.close()
        self._clients.clear()
        for thread in self._threads:
            thread.join(5)
        self._threads.clear()

    def _spawn(self, target, *args) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept(self, listener: socket.socket) -> None:
        listener.settimeout(0.05)
        while self._listener is listener:
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            self._clients.append(client)
            self._spawn(self._read, client)

    def _read(self, client: socket.socket) -> None:
        buffer = b""
        while True:
            try:
                data = client.recv(65536)
            except OSError:
                return
            if not data:
                return
            buffer += data
            *complete, buffer = buffer.split(b"\n")
            with self._lock:
                self.lines.extend(complete)


class DatagramReceiver:
    """A UDP socket recording each datagram as it arrived."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        self.sock.bind((host, 0))
        self.sock.settimeout(0.05)
        self.host = host
        self.port = self.sock.getsockname()[1]
        self.datagrams: list[bytes] = []
        self._running = True
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def uri(self, scheme: str = "udp") -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{self.port}"

    @property
    def lines(self) -> list[bytes]:
        return [line for datagram in list(self.datagrams) for line in datagram.split(b"\n") if line]

    @property
    def events(self) -> list[dict]:
        return [orjson.loads(line) for line in self.lines]

    def _read(self) -> None:
        while self._running:
            try:
                self.datagrams.append(self.sock.recv(65536))
            except TimeoutError:
                continue
            except OSError:
                return

    def stop(self) -> None:
        self._running = False
        self._thread.join(5)
        self.sock.close()


class HttpReceiver:
    """An HTTP server taking POSTs; ``answers`` is a list of status codes to give first."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.answers: list[int] = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.requests.append(("POST", self.path, dict(self.headers)))
                status = receiver.answers.pop(0) if receiver.answers else 204
                if status < 300:
                    receiver.bodies.append(body)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    @property
    def events(self) -> list[dict]:
        return [orjson.loads(line) for body in list(self.bodies) for line in body.splitlines() if line]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(5)
