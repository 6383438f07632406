"""numbat emitter: send metric events to a numbat collector without ever blocking.

>>> import emitter
>>> e = emitter.Emitter("udp://127.0.0.1:3333", app="registry")
>>> e.metric("request.latency", 30, status="ok")  # doctest: +SKIP

What a service may import is in ``__all__`` (tests/test_exports.py holds it, so a change
is a visible decision). Modules with a leading underscore are internal. Two modules are
public for numbat's own programs: ``event`` (the numbat event and its defaults) and
``backoff`` (jittered reconnect delays, which numbatd's listeners and remote sinks use
too); ``cli`` is the ``numbat-emit`` command.
"""

from ._client import Emitter, EmitterStats, get_global, metric, set_global, timer
from ._settings import EmitterSettings
from ._statsd import to_statsd
from ._timer import Timer
from ._uri import Destination, InvalidURI, parse_uri
from .event import Event, EventBuilder

__all__ = [
    "Destination",
    "Emitter",
    "EmitterSettings",
    "EmitterStats",
    "Event",
    "EventBuilder",
    "InvalidURI",
    "Timer",
    "get_global",
    "metric",
    "parse_uri",
    "set_global",
    "timer",
    "to_statsd",
]
