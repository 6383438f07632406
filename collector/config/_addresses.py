"""Listen and connect addresses in URL form: ``udp://host:port``, ``tcp://``, ``http://``,
``unix:///path`` (a stream socket) and ``unixgram:///path`` (a datagram socket, DogStatsD's).

Parsed when the configuration is checked, so a bad URL is named before anything starts;
the listeners and the forward sink use the parsed form.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from ._checks import require


@dataclass(frozen=True)
class ListenAddress:
    scheme: Literal["udp", "tcp", "unix", "unixgram", "http"]
    host: str = ""
    port: int = 0
    path: str = ""


def parse_listen_url(url: str) -> ListenAddress:
    parts = urlsplit(url)
    scheme = parts.scheme
    if scheme in ("unix", "unixgram"):
        path = parts.netloc + parts.path
        require(bool(path), "url", f"{url!r} names no socket path")
        return ListenAddress(scheme, path=path)  # type: ignore[arg-type]
    require(scheme in ("udp", "tcp", "http"), "url", f"{url!r}: scheme must be udp, tcp, unix, unixgram or http")
    try:
        port = parts.port
    except ValueError:
        port = None
    require(port is not None, "url", f"{url!r} names no valid port")
    require(bool(parts.hostname), "url", f"{url!r} names no host")
    return ListenAddress(scheme, host=parts.hostname or "", port=port or 0)  # type: ignore[arg-type]
