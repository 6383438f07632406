"""Graphite's plaintext protocol: ``path value [timestamp]``, tags as ``path;k=v;k2=v2``."""

from __future__ import annotations

from collections.abc import Iterable

from ..events import Batch, Event
from .base import DecodeError, Decoder, parse_number


class GraphiteDecoder(Decoder):
    """``value`` as given, ``time`` from the timestamp in seconds (missing or -1: now)."""

    format = "graphite"

    def decode(self, lines: Iterable[bytes], now_ms: int, batch: Batch) -> None:
        for line in lines:
            parts = line.split()
            if not parts:
                continue
            try:
                batch.add(parse_graphite_line([part.decode() for part in parts], now_ms))
            except UnicodeDecodeError:
                batch.reject("not UTF-8", line)
            except DecodeError as exc:
                batch.reject(str(exc), line)


def parse_graphite_line(parts: list[str], now_ms: int) -> Event:
    if len(parts) not in (2, 3):
        raise DecodeError("not 'path value [timestamp]'")
    path, *tags = parts[0].split(";")
    if not path:
        raise DecodeError("no name")
    event: Event = {"name": path, "value": parse_number(parts[1]), "time": now_ms}
    if len(parts) == 3:
        seconds = parse_number(parts[2])
        if seconds != -1:
            event["time"] = round(seconds * 1000)
    for tag in tags:
        key, equals, value = tag.partition("=")
        if not equals or not key or not value:
            raise DecodeError("tag is not key=value")
        if key not in event:
            event[key] = value
    return event
