"""Parse a collector destination URI into the transport that will carry events."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

Transport = Literal["udp", "tcp", "unix", "statsd", "http"]

#: Schemes numbat-emitter (Node) accepts, plus ours. ``socket:`` and ``sock:`` are
#: numbat's spelling of a unix stream socket.
SCHEMES: dict[str, Transport] = {
    "udp": "udp",
    "tcp": "tcp",
    "unix": "unix",
    "socket": "unix",
    "sock": "unix",
    "statsd": "statsd",
    "http": "http",
    "https": "http",
}

STATSD_DEFAULT_PORT = 8125


class InvalidURI(ValueError):
    """The destination URI names no transport we can use."""


@dataclass(frozen=True, slots=True)
class Destination:
    """Where events go, resolved from a URI once, at construction."""

    uri: str
    transport: Transport
    host: str | None = None
    port: int | None = None
    path: str | None = None  # unix socket path, or the HTTP request path

    @property
    def address(self) -> tuple[str, int] | str:
        """Where a socket connects or sends to: (host, port), or a unix socket path."""
        if self.transport == "unix":
            return self.path or ""
        return self.inet_address

    @property
    def inet_address(self) -> tuple[str, int]:
        if self.host is None or self.port is None:
            raise InvalidURI(f"{self.uri!r} names no host and port")
        return (self.host, self.port)

    @property
    def secure(self) -> bool:
        return self.uri.lower().startswith("https:")


def parse_uri(uri: str) -> Destination:
    """Parse ``udp://``, ``tcp://``, ``unix:///path``, ``socket:/path``, ``statsd://``
    and ``http(s)://`` URIs; raise :class:`InvalidURI` saying what is wrong."""
    if not isinstance(uri, str) or not uri:
        raise InvalidURI(f"destination uri must be a non-empty string, got {uri!r}")
    parts = urlsplit(uri)
    transport = SCHEMES.get(parts.scheme.lower())
    if transport is None:
        known = ", ".join(f"{s}:" for s in SCHEMES)
        raise InvalidURI(f"unsupported destination uri {uri!r}: the scheme must be one of {known}")

    if transport == "unix":
        # unix:///run/numbat.sock, socket:/run/numbat.sock, and the relative socket:numbat.sock
        path = parts.netloc + parts.path
        if not path:
            raise InvalidURI(f"destination uri {uri!r} names no socket path")
        return Destination(uri, transport, path=path)

    try:
        port = parts.port
    except ValueError as exc:
        raise InvalidURI(f"destination uri {uri!r} has a bad port: {exc}") from None
    host = parts.hostname
    if not host:
        raise InvalidURI(f"destination uri {uri!r} names no host")
    if transport == "http":
        path = parts.path or "/"
        if parts.query:
            path = f"{path}?{parts.query}"
        return Destination(uri, transport, host=host, port=port, path=path)
    if port is None:
        if transport != "statsd":
            raise InvalidURI(f"destination uri {uri!r} names no port")
        port = STATSD_DEFAULT_PORT
    return Destination(uri, transport, host=host, port=port)
