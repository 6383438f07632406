"""statsd lines, with DogStatsD extensions: ``name:value|type[|@rate][|#k:v,...][|T<seconds>]``."""

from __future__ import annotations

from ..events import Event
from .base import DecodeError, TextLineDecoder, parse_number

TYPES = frozenset({"c", "g", "ms", "h", "d", "s"})


class StatsdDecoder(TextLineDecoder):
    """Each metric becomes an event named as sent, with ``value``, ``statsd_type`` (c, g,
    ms, h, d or s), ``rate`` when sampled, tags as fields (a bare tag is ``true``).

    Nothing is aggregated: numbat stores raw events. A gauge written ``+3`` or ``-3`` is
    a change, not a level, and is marked ``gauge_delta``.
    """

    format = "statsd"

    def parse_line(self, line: str, now_ms: int) -> list[Event]:
        return [parse_statsd_line(line, now_ms)]


def parse_statsd_line(line: str, now_ms: int) -> Event:
    if line.startswith(("_e{", "_sc|")):
        raise DecodeError("statsd events and service checks are not metrics")
    name, colon, rest = line.partition(":")
    if not colon or not name:
        raise DecodeError("no name")
    sections = rest.split("|")
    if len(sections) < 2:
        raise DecodeError("no type")
    text_value, metric_type = sections[0], sections[1]
    if metric_type not in TYPES:
        raise DecodeError("unknown statsd type")
    event: Event = {"name": name, "value": 0, "time": now_ms, "statsd_type": metric_type}
    if metric_type == "s":
        if not text_value:
            raise DecodeError("empty set member")
        event["value"] = text_value
    else:
        event["value"] = parse_number(text_value)
        if metric_type == "g" and text_value.startswith(("+", "-")):
            event["gauge_delta"] = True
    for section in sections[2:]:
        _apply_section(event, section)
    return event


def _apply_section(event: Event, section: str) -> None:
    marker = section[:1]
    if marker == "@":
        rate = parse_number(section[1:])
        if not 0 < rate <= 1:
            raise DecodeError("sample rate is not in (0, 1]")
        event["rate"] = rate
    elif marker == "#":
        for tag in section[1:].split(","):
            if not tag:
                continue
            key, colon, value = tag.partition(":")
            if key and key not in event:  # a tag cannot overwrite name, value, time or the type
                event[key] = value if colon else True
    elif marker == "T":
        seconds = parse_number(section[1:])
        event["time"] = round(seconds * 1000)
    # DogStatsD's container id (c:) and later extensions carry nothing we store.
