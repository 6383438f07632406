"""Graphite's plaintext protocol: ``path value [timestamp]``, tags as ``path;k=v;k2=v2``.

Read as carbon reads it: fields split on whitespace, a missing or ``-1`` timestamp
meaning now, the value by the text formats' number grammar (_decoding.py); tags
become fields of the event, never overwriting name, value or time.
"""

from __future__ import annotations

from emitter.event import Event

from ._decoding import DecodeError, TextLineDecoder, parse_number, seconds_to_ms


class GraphiteDecoder(TextLineDecoder):
    """``value`` as given, ``time`` from the timestamp in seconds (missing or -1: now)."""

    format = "graphite"

    def parse_line(self, line: str, now_ms: int) -> list[Event]:
        return [parse_graphite_line(line.split(), now_ms)]


def parse_graphite_line(parts: list[str], now_ms: int) -> Event:
    if len(parts) not in (2, 3):
        raise DecodeError("not 'path value [timestamp]'")
    path, *tags = parts[0].split(";")
    if not path:
        raise DecodeError("no name")
    event: Event = {"name": path, "value": parse_number(parts[1]), "time": now_ms}
    if len(parts) == 3 and parts[2] != "-1":  # -1: now, as carbon reads it
        event["time"] = seconds_to_ms(parts[2])
    for tag in tags:
        key, equals, value = tag.partition("=")
        if not equals or not key or not value:
            raise DecodeError("tag is not key=value")
        if key not in event:
            event[key] = value
    return event
