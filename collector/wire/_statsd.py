"""statsd lines, with the DogStatsD and Telegraf extensions real clients send.

``name[,tag=value...]:value[:value...]|type[|@rate][|#k:v,...][|T<seconds>]`` for metrics:
tags either DogStatsD's way (``|#k:v``, hot-shots, datadog) or Influx's way in the name
(``name,k=v``, Telegraf and hot-shots' ``influx`` mode); several values sharing one type
and tags are DogStatsD 1.1's packed form (``x:1:2:3|d``). DogStatsD's events
(``_e{title_length,text_length}:title|text|...``) and service checks
(``_sc|name|status|...``) become numbat events too: a service check carries numbat's
``status`` (0 ok, 1 warning, 2 critical, 3 unknown), so the alerts see it.
"""

from __future__ import annotations

from emitter.event import Event

from ._decoding import DecodeError, TextLineDecoder, parse_number, seconds_to_ms

TYPES = frozenset({"c", "g", "ms", "h", "d", "s"})
SERVICE_CHECK_STATUS = {"0": "ok", "1": "warning", "2": "critical", "3": "unknown"}
#: Metadata sections of events and service checks, by their prefix.
_EVENT_SECTIONS = {"h": "host", "p": "priority", "t": "alert_type", "k": "aggregation_key", "s": "source_type_name"}
#: Keys a tag cannot overwrite: what numbat or the statsd type is made of.
_PROTECTED = frozenset({"name", "value", "time", "statsd_type", "rate", "gauge_delta"})


class StatsdDecoder(TextLineDecoder):
    """Each metric value becomes an event named as sent, with ``value``, ``statsd_type``
    (c, g, ms, h, d or s), ``rate`` when sampled, tags as fields (a bare tag is ``true``).

    Nothing is aggregated here: that is the aggregation stage's job. A gauge written
    ``+3`` or ``-3`` is a change, not a level, and is marked ``gauge_delta``.
    """

    format = "statsd"

    def parse_line(self, line: str, now_ms: int) -> list[Event]:
        if line.startswith("_e{"):
            return [parse_event(line, now_ms)]
        if line.startswith("_sc|"):
            return [parse_service_check(line, now_ms)]
        return parse_metric(line, now_ms)


def parse_metric(line: str, now_ms: int) -> list[Event]:
    head, colon, rest = line.partition(":")
    name, *influx_tags = head.split(",")
    if not colon or not name:
        raise DecodeError("no name")
    sections = rest.split("|")
    if len(sections) < 2:
        raise DecodeError("no type")
    texts, metric_type = sections[0].split(":"), sections[1]
    if metric_type not in TYPES:
        raise DecodeError("unknown statsd type")
    common: Event = {"name": name, "value": 0, "time": now_ms, "statsd_type": metric_type}
    for section in sections[2:]:
        _apply_section(common, section)
    for tag in influx_tags:
        key, equals, value = tag.partition("=")
        if not equals or not key:
            raise DecodeError("tag is not key=value")
        if key not in _PROTECTED:
            common.setdefault(key, value)
    return [_with_value(common, text) for text in texts]


def _with_value(common: Event, text: str) -> Event:
    event = dict(common)
    if common["statsd_type"] == "s":
        if not text:
            raise DecodeError("empty set member")
        event["value"] = text
        return event
    event["value"] = parse_number(text)
    if common["statsd_type"] == "g" and text.startswith(("+", "-")):
        event["gauge_delta"] = True
    return event


def _apply_section(event: Event, section: str) -> None:
    marker = section[:1]
    if marker == "@":
        rate = parse_number(section[1:], "sample rate")
        if not 0 < rate <= 1:
            raise DecodeError("sample rate is not in (0, 1]")
        event["rate"] = rate
    elif marker == "#":
        _apply_tags(event, section[1:])
    elif marker == "T":
        event["time"] = seconds_to_ms(section[1:])
    # DogStatsD's container id (c:) and later extensions carry nothing we store.


def _apply_tags(event: Event, tags: str) -> None:
    for tag in tags.split(","):
        key, colon, value = tag.partition(":")
        if key and key not in _PROTECTED and key not in event:
            event[key] = value if colon else True


def parse_event(line: str, now_ms: int) -> Event:
    """``_e{title_length,text_length}:title|text|d:ts|h:host|p:priority|t:type|#tags``:
    the lengths are of the UTF-8 bytes; ``\\n`` in the text is a newline."""
    header, colon, body = line[3:].partition(":")
    lengths = header.removesuffix("}").split(",")
    if not colon or not header.endswith("}") or len(lengths) != 2 or not all(map(_is_ascii_digits, lengths)):
        raise DecodeError("event header is not _e{title_length,text_length}:")
    title_end = int(lengths[0])
    text_end = title_end + 1 + int(lengths[1])
    data = body.encode()
    title, text, after = data[:title_end], data[title_end + 1 : text_end], data[text_end:]
    if not title or data[title_end : title_end + 1] != b"|" or len(data) < text_end or after[:1] not in (b"", b"|"):
        raise DecodeError("event title or text is not as long as its header says")
    event: Event = {
        "name": "event",
        "value": 1,
        "time": now_ms,
        "statsd_type": "e",
        "title": title.decode("utf-8", "replace"),  # a length may cut a character
        "description": text.decode("utf-8", "replace").replace("\\n", "\n"),
    }
    _apply_metadata(event, after.decode("utf-8", "replace")[1:], _EVENT_SECTIONS)
    return event


def parse_service_check(line: str, now_ms: int) -> Event:
    """``_sc|name|status|d:ts|h:host|#tags|m:message``: the message comes last and may
    hold anything, ``|`` included."""
    rest, marker, message = line[4:].partition("|m:")
    parts = rest.split("|", 2)
    if len(parts) < 2 or not parts[0]:
        raise DecodeError("service check is not _sc|name|status")
    status = SERVICE_CHECK_STATUS.get(parts[1])
    if status is None:
        raise DecodeError("service check status is not 0, 1, 2 or 3")
    event: Event = {
        "name": parts[0],
        "value": int(parts[1]),
        "time": now_ms,
        "statsd_type": "sc",
        "status": status,
    }
    if marker:
        event["description"] = message.replace("\\n", "\n")
    _apply_metadata(event, parts[2] if len(parts) > 2 else "", {"h": "host"})
    return event


def _is_ascii_digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


def _apply_metadata(event: Event, sections: str, names: dict[str, str]) -> None:
    for section in sections.split("|") if sections else ():
        marker, colon, value = section.partition(":")
        if section.startswith("#"):
            _apply_tags(event, section[1:])
        elif marker == "d" and colon:
            event["time"] = seconds_to_ms(value)
        elif marker in names and colon:
            event[names[marker]] = value
