"""Encoding events for the wire and packing them into datagrams. Sans-I/O.

numbat's framing is newline-delimited JSON: on a stream one event per line, on UDP one
or more newline-terminated events per datagram. statsd lines are packed the same way
and sent without the last newline, which some statsd servers count as an empty metric.
"""

from __future__ import annotations

import decimal
import enum
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import orjson

from ._statsd import to_statsd
from .event import Event

#: Fits one IPv4 or IPv6 datagram in a 1500-byte Ethernet MTU without fragmenting.
DEFAULT_DATAGRAM_SIZE = 1432
#: To a loopback address, whose MTU is 64 KiB: a sixth of the sends. 8 KiB is what the
#: statsd servers with the smallest reads take whole (the Datadog agent's default buffer).
LOOPBACK_DATAGRAM_SIZE = 8192
MAX_DATAGRAM_SIZE = 65_507


def json_default(value: Any) -> Any:
    """orjson ``default``: the few non-JSON types a service plausibly passes as a field."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, decimal.Decimal):
        return float(value)
    raise TypeError(f"cannot encode a field of type {type(value).__name__}")


def encode_json(event: Event) -> bytes:
    """One newline-terminated JSON line. Raises TypeError for what JSON cannot carry."""
    return orjson.dumps(event, default=json_default, option=orjson.OPT_APPEND_NEWLINE)


def encode_statsd(event: Event) -> bytes:
    return to_statsd(event).encode() + b"\n"


def encode_batch(events: Iterable[Event], encode: Callable[[Event], bytes]) -> tuple[bytearray, int, int]:
    """Encode events into one buffer of newline-terminated lines.

    Returns ``(data, lines, failures)``. Appending each line to a growing buffer at
    once, rather than keeping a list of small ``bytes``, is several times faster with
    recent orjson, whose results are costly to keep alive in numbers. Nothing we encode
    contains a raw newline, so the buffer's newlines are exactly its line boundaries.
    """
    data = bytearray()
    lines = failures = 0
    for event in events:
        try:
            data += encode(event)
        except Exception:  # orjson.JSONEncodeError (a TypeError), or a field's __str__ raising
            failures += 1
        else:
            lines += 1
    return data, lines, failures


def pack_datagrams(data: bytes | bytearray, limit: int) -> Iterator[memoryview]:
    """Split newline-terminated lines, in order, into datagrams of at most ``limit`` bytes.

    Each datagram ends at a line boundary. A line longer than ``limit`` goes alone in a
    datagram of its own: splitting it would corrupt it, and whether to send it is the
    caller's decision (see :data:`MAX_DATAGRAM_SIZE`). So a ``limit`` of 1 sends one
    line per datagram.
    """
    view = memoryview(data)
    size = len(data)
    start = 0
    while start < size:
        if size - start <= limit:
            end = size
        else:
            cut = data.rfind(b"\n", start, start + limit)
            if cut < 0:
                cut = data.find(b"\n", start + limit)
                cut = size - 1 if cut < 0 else cut
            end = cut + 1
        yield view[start:end]
        start = end
