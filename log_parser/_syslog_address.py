"""Where live mode's syslog listener listens: ``tcp://host:port`` or ``udp://host:port``.

Strategy: the address is read with the standard library alone, apart from the listener
(:mod:`log_parser.live._syslog`, which loads trio), so that the command line can refuse a
bad ``--syslog`` (and ``live --check`` can say it is good) without loading trio.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass(frozen=True)
class SyslogAddress:
    transport: str  #: "tcp" or "udp"
    host: str  #: an IPv6 address without its brackets
    port: int


def parse_syslog_url(url: str) -> SyslogAddress:
    """``tcp://host:port`` or ``udp://host:port``, an IPv6 host in brackets
    (``udp://[::1]:5140``); ValueError naming what is wrong."""
    problem = f"syslog listener {url!r}: "
    parts = urlsplit(url)
    if parts.scheme not in ("tcp", "udp"):
        raise ValueError(problem + "the scheme must be tcp or udp")
    try:
        port = parts.port
    except ValueError:
        raise ValueError(problem + "the port must be a number from 1 to 65535") from None
    if not parts.hostname or port is None or parts.path or parts.query or parts.fragment:
        raise ValueError(problem + "expected tcp://host:port or udp://host:port (IPv6: [::1])")
    return SyslogAddress(parts.scheme, parts.hostname, port)
