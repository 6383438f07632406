"""numbat emitter: send metric events to a numbat collector without ever blocking.

>>> import emitter
>>> e = emitter.Emitter("udp://127.0.0.1:3333", app="registry")
>>> e.metric("request.latency", 30, status="ok")  # doctest: +SKIP
"""

from .client import Emitter, EmitterStats, get_global, metric, set_global, timer
from .event import Event, EventBuilder
from .settings import EmitterSettings
from .statsd import to_statsd
from .timer import Timer
from .uri import Destination, InvalidURI, parse_uri

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
