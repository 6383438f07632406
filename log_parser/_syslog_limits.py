"""The bounds of live mode's syslog listener, with their defaults and their checks.

Strategy: a frozen record that refuses a bound that makes no sense when it is made. A
module apart from the listener (:mod:`log_parser.live._syslog`), so that the command line
can show the defaults and check ``--max-connections``, ``--idle-timeout`` and
``--max-line-bytes`` without loading trio.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class ListenerLimits:
    """The syslog listener's bounds (``live --max-connections``, ``--idle-timeout``,
    ``--max-line-bytes``)."""

    max_connections: int = 256  #: TCP connections open at once; more are closed at once, counted
    idle_timeout: float = 300.0  #: seconds a TCP connection may send nothing before it is closed, counted
    max_line_bytes: int = 65_536  #: longer messages (TCP) and lines (UDP) are refused, counted
    udp_drain_batch: int = 1_024  #: datagrams read per wake-up before other tasks run

    def __post_init__(self) -> None:
        if self.max_connections < 1:
            raise ValueError("max_connections must be at least 1")
        if not (math.isfinite(self.idle_timeout) and self.idle_timeout > 0):
            raise ValueError("idle_timeout must be a number of seconds above 0")
        if self.max_line_bytes < 1:
            raise ValueError("max_line_bytes must be at least 1")
        if self.udp_drain_batch < 1:
            raise ValueError("udp_drain_batch must be at least 1")
