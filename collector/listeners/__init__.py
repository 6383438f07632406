"""Listeners: sockets in, batches of events out to the router. trio shells around the
sans-I/O wire.

Every kind goes through the Intake (_intake.py: line length, the format's decoder,
counting); connection-oriented ones (tcp, unix, http) through one accept loop
(_accept.py: max_connections, the process's fd budget from _descriptors.py, backoff
when descriptors run out). _stream.py reads tcp and unix, _udp.py udp and unixgram,
_http.py and _httpserver.py HTTP on h11; _sockets.py binds them; _running.py starts,
replaces and stops them for the daemon.
"""

from ._intake import Intake
from ._running import Listeners

__all__ = ["Intake", "Listeners"]
