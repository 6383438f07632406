"""Events to carbon's two protocols, and back. Sans-I/O.

A point is what carbon's pickle receiver takes, ``(path, (timestamp, value))``: the
timestamp in whole seconds (the event's ms, floored; carbon keeps seconds), the value an
int or a float as the event had it. Plaintext is one line per point, ``path value
timestamp\\n`` (the value as ``repr`` writes it: the shortest text that reads back as
the same float). Pickle is carbon's batched protocol: messages of a 4-byte big-endian
length and a list of points pickled with protocol 2, as carbon-relay sends them, each of
at most ``max_message_points`` points and ``max_message_bytes`` (carbon's
``PICKLE_RECEIVER_MAX_LENGTH``, 1 MiB by default: past it carbon drops the connection).

Only a number is a value: a string, a boolean, null or a non-finite number leaves its
event out, counted (``not a number``); so does a time whisper cannot hold (its
timestamps are unsigned 32-bit seconds, 1970 to 2106; ``time out of range``). A body
of either protocol converts to the other (:func:`convert`), so a spool written under one
protocol replays to a carbon that speaks the other, after the configuration changed.
"""

from __future__ import annotations

import io
import math
import pickle
import struct
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Literal

from ...aggregate import GraphiteNaming
from ...aggregate._options import KINDS
from ._paths import PathMaker, Skip, summary_paths

Protocol = Literal["plaintext", "pickle"]
Point = tuple[str, tuple[int, float]]
PROTOCOLS: tuple[Protocol, ...] = ("plaintext", "pickle")

_LENGTH = struct.Struct("!L")
#: Bytes a pickled point takes beyond its path, at most: opcodes, the timestamp, the value.
_POINT_OVERHEAD = 64
MIN_MESSAGE_BYTES = 65_536  #: room for the longest path a point may have, many times over
#: A pickle body starts with a message's length; below 16 MiB its first byte is 0, which
#: no plaintext line can start with, so a body tells its protocol.
MAX_MESSAGE_BYTES = (1 << 24) - 1
_SUMMARY_KINDS = frozenset(KINDS)
#: whisper's timestamps: unsigned 32-bit seconds (and carbon reads -1 as "now")
TIMESTAMPS = range(0, 1 << 32)
_LATEST_MS = (1 << 32) * 1000
_NO_PATHS: dict[Any, str] = {}


def _nothing(event: Mapping[str, Any]) -> tuple[Any, ...]:
    return ()


def value_of(event: Mapping[str, Any]) -> float | None:
    """The event's value if it is a finite number (not a boolean), else None."""
    value: Any = event.get("value")
    kind = value.__class__
    return value if kind is int or (kind is float and math.isfinite(value)) else None


class PointEncoder:
    """Events to points. An aggregation's summary (an event whose ``kind`` is one of
    the aggregation's, given ``naming``: the sink takes an aggregation) becomes statsd's
    paths; any other event one point on its path (``paths``). ``skip`` names events not
    written (heartbeats); what is left out is counted by reason."""

    def __init__(
        self,
        paths: PathMaker,
        *,
        naming: GraphiteNaming | None = None,
        skip: Callable[[str], bool] | None = None,
    ) -> None:
        self.paths = paths
        self.naming = naming
        self._skip = skip or (lambda name: False)

    def encode(self, events: Iterable[Mapping[str, Any]]) -> tuple[list[Point], int, dict[str, int]]:
        """The points of ``events``, in order; how many events made points; how many did
        not, by reason.

        An event of a path already written, with a number for its value and a time
        whisper holds, costs a lookup: its values are taken in one call by the getter of
        its shape (its keys), and its path is the one remembered for them. Any other event
        takes the slow path (:meth:`_point`), which checks everything and teaches the
        cache.
        """
        points: list[Point] = []
        append = points.append
        left_out: dict[str, int] = {}
        written = 0
        size, known = -1, _NO_PATHS  # the shape of the last event
        full: Callable[[Mapping[str, Any]], tuple[Any, ...]] = _nothing
        point = self._point
        for event in events:
            if len(event) == size:
                try:
                    got = full(event)
                    path = known.get(got[2:])
                except (KeyError, TypeError):  # other keys, as many; a value that cannot be hashed
                    path = None
                if path is not None:
                    value, at = got[0], got[1]
                    kind = value.__class__
                    if (
                        (kind is int or (kind is float and value - value == 0.0))
                        and at.__class__ is int
                        and (0 <= at < _LATEST_MS)
                    ):
                        append((path, (at // 1000, value)))
                        written += 1
                        continue
            made = point(event, points)
            if made is None:
                written += 1
            else:
                left_out[made] = left_out.get(made, 0) + 1
            shape = self.paths.shape_of(event)
            if shape is not None and shape.full is not None and self.naming is None:
                size, full, known = shape.size, shape.full, shape.paths
        return points, written, left_out

    def _point(self, event: Mapping[str, Any], points: list[Point]) -> str | None:
        """The slow path: append the points of ``event``; why it has none, or None. The
        path of a raw event is remembered (:meth:`PathMaker.path_of`), heartbeats never."""
        if self._skip(event["name"]):
            return "heartbeat"
        if self.naming is not None and event.get("kind") in _SUMMARY_KINDS:
            return self._summary(event, points)
        value = value_of(event)
        if value is None:
            return "not a number"
        if event["time"] // 1000 not in TIMESTAMPS:
            return "time out of range"
        path = self.paths.path_of(event)
        if isinstance(path, Skip):
            return path.reason
        points.append((path, (event["time"] // 1000, value)))
        return None

    def _summary(self, summary: Mapping[str, Any], points: list[Point]) -> str | None:
        """Append a summary's points; why it has none, or None."""
        assert self.naming is not None
        made = summary_paths(summary, self.naming, self.paths.prefix, self.paths.max_path_bytes)
        if isinstance(made, Skip):
            return made.reason
        at = summary["time"] // 1000
        if at not in TIMESTAMPS:
            return "time out of range"
        before = len(points)
        for path, value in made:
            if value.__class__ is int or (value.__class__ is float and math.isfinite(value)):
                points.append((path, (at, value)))
        return None if len(points) > before else "not a number"


# -- the two protocols -------------------------------------------------------------------


def plaintext(points: Iterable[Point]) -> bytes:
    """``path value timestamp`` lines."""
    return "".join([f"{path} {value!r} {at}\n" for path, (at, value) in points]).encode()


def pickled(points: list[Point], max_message_bytes: int = 1 << 20, max_message_points: int = 500) -> bytes:
    """Length-prefixed pickle messages (protocol 2), each of at most ``max_message_points``
    points (carbon-relay's ``MAX_DATAPOINTS_PER_MESSAGE``: carbon reads a message whole
    before it takes a point of it, and spends less per point on smaller ones) and
    ``max_message_bytes``."""
    messages = []
    start, size = 0, 0
    for index, (path, _) in enumerate(points):
        cost = len(path) + _POINT_OVERHEAD  # paths are ASCII but a summary's: a message over is halved
        if index > start and (size + cost > max_message_bytes or index - start >= max_message_points):
            messages += _messages(points[start:index], max_message_bytes)
            start, size = index, 0
        size += cost
    if start < len(points):
        messages += _messages(points[start:], max_message_bytes)
    return b"".join(messages)


def _messages(points: list[Point], max_message_bytes: int) -> list[bytes]:
    payload = pickle.dumps(points, protocol=2)
    if len(payload) <= max_message_bytes or len(points) == 1:  # one point always fits (the bounds say so)
        return [_LENGTH.pack(len(payload)) + payload]
    middle = len(points) // 2
    return _messages(points[:middle], max_message_bytes) + _messages(points[middle:], max_message_bytes)


def encode(
    points: list[Point], protocol: Protocol, max_message_bytes: int = 1 << 20, max_message_points: int = 500
) -> bytes:
    return plaintext(points) if protocol == "plaintext" else pickled(points, max_message_bytes, max_message_points)


def protocol_of(body: bytes) -> Protocol:
    return "pickle" if body[:1] == b"\x00" else "plaintext"


class _NoGlobals(pickle.Unpickler):
    """Points are lists, tuples, text and numbers: a pickle naming anything else is no body of ours."""

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"a body holds only points, not {module}.{name}")


def decode(body: bytes) -> list[Point]:
    """The points of a body of either protocol (a spool's, the tests')."""
    if protocol_of(body) == "plaintext":
        points: list[Point] = []
        for line in body.decode().splitlines():
            path, value, timestamp = line.split(" ")
            points.append((path, (int(timestamp), _number(value))))
        return points
    points = []
    offset = 0
    while offset < len(body):
        (length,) = _LENGTH.unpack_from(body, offset)
        payload = body[offset + 4 : offset + 4 + length]
        if len(payload) != length:
            raise ValueError("a pickle message cut short")
        points += _NoGlobals(io.BytesIO(payload)).load()
        offset += 4 + length
    return points


def _number(text: str) -> float:
    """A value as written: ``repr`` of an int reads back as that int, of a float as that float."""
    try:
        return int(text)
    except ValueError:
        return float(text)


def convert(body: bytes, protocol: Protocol, max_message_bytes: int = 1 << 20, max_message_points: int = 500) -> bytes:
    """``body`` in ``protocol``: itself if it is in it already, else re-encoded."""
    if protocol_of(body) == protocol:
        return body
    return encode(decode(body), protocol, max_message_bytes, max_message_points)


def readable(body: bytes) -> list[Point] | None:
    """The points of ``body``, or None if it is no body of ours (a damaged spool's)."""
    try:
        return decode(body)
    except (ValueError, TypeError, UnicodeDecodeError, pickle.UnpicklingError, EOFError, struct.error):
        return None


def split(body: bytes, max_message_bytes: int = 1 << 20, max_message_points: int = 500) -> list[tuple[bytes, int]]:
    """``body`` in two bodies of half its points each, in its protocol, each with its
    number of points; ``[]`` when it holds one point or none, or is no body of ours
    (then there is nothing to split: it is dropped)."""
    points = readable(body)
    if points is None or len(points) < 2:
        return []
    protocol, middle = protocol_of(body), len(points) // 2
    return [
        (encode(half, protocol, max_message_bytes, max_message_points), len(half))
        for half in (points[:middle], points[middle:])
    ]
