"""The syslog header before a CDN's log message: RFC 5424, and RFC 3164 with a BSD or an
ISO 8601 timestamp (as Fastly and rsyslog send it). Sans-I/O: a line in, where its message
starts (or the header's fields) out. TCP framing is another matter: see :mod:`.._syslog_framing`.

Strategy: one compiled expression covers every valid header of either kind, so the usual
line costs a single match (and a leap-year check on February 29). Only a line it refuses
is read again, field by field, to say which field is wrong; that slower reading is also
:func:`read_header`, for callers that want the fields. Both are built from the same field
patterns below, and a property test holds them to accepting the same lines.

RFC 5424: ``<PRI>VERSION SP TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP MSGID SP
STRUCTURED-DATA [SP MSG]``; RFC 3164: ``<PRI>TIMESTAMP SP HOSTNAME SP TAG[PID]: MSG``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .._records import ParseError

# -- the field patterns, shared by the single expression and the field-by-field reader --

_PRIVAL = r"(?:0|[1-9][0-9]?|1[0-8][0-9]|19[01])"  # 0..191, no leading zero
_VERSION = r"[1-9][0-9]{0,2}"  # RFC 5424: NONZERO-DIGIT 0*2DIGIT
_DATE = (  # a day of the calendar, February 29 apart: it takes a leap year, checked in code
    r"[0-9]{4}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])"
    r"|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)|02-(?:0[1-9]|1[0-9]|2[0-8]))"
)
_LEAP_DAY = r"[0-9]{4}-02-29"
_CLOCK = r"T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"  # RFC 5424 forbids leap seconds
_OFFSET = r"(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])"
_FRACTION_5424 = r"(?:\.[0-9]{1,6})?"
_FRACTION_ISO = r"(?:\.[0-9]+)?"  # RFC 3339 sets no limit, and RFC 3164 senders follow it
_PRINTABLE = "[!-~]"  # PRINTUSASCII, %d33-126
_SD_NAME = r"[!#-<>-\\^-~]{1,32}"  # PRINTUSASCII except '=', ']' and '"'
_SD_VALUE = r'(?:[^"\\]++|\\[\s\S])*+'  # '"', '\' and ']' escaped with '\'; a bare ']' ends nothing
_SD_PARAMS = rf'(?: {_SD_NAME}="{_SD_VALUE}")*+'
_MESSAGE_5424 = r"(?: \ufeff?|(?=\r?\n?\Z))"  # SP MSG, a BOM dropped; or no MSG at all
_BSD_DAYS = r" [1-9]|0[1-9]|[12][0-9]"  # 1 to 29: RFC 3164 pads with a space, some senders with 0
_BSD_DATE = (  # no year: February 29 is allowed
    rf"(?:(?:Jan|Mar|May|Jul|Aug|Oct|Dec) (?:{_BSD_DAYS}|3[01])"
    rf"|(?:Apr|Jun|Sep|Nov) (?:{_BSD_DAYS}|30)|Feb (?:{_BSD_DAYS}))"
)
_BSD_TIME = r" (?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"
_HOST_3164 = r"\S+"
_TAG_3164 = r"[^:\[\s]+"


def _timestamp(fraction: str, capture_leap_day: bool) -> str:
    """An RFC 3339 time; in the single expression a February 29 is its only group, so
    that a match needs no more checking unless it holds one."""
    leap_day = f"({_LEAP_DAY})" if capture_leap_day else _LEAP_DAY
    return rf"(?:{_DATE}|{leap_day}){_CLOCK}{fraction}{_OFFSET}"


_FAST = re.compile(
    rf"<{_PRIVAL}>(?:"
    rf"{_VERSION} (?:-|{_timestamp(_FRACTION_5424, True)})"
    rf" {_PRINTABLE}{{1,255}} {_PRINTABLE}{{1,48}} {_PRINTABLE}{{1,128}} {_PRINTABLE}{{1,32}}"
    rf" (?:-|(?:\[{_SD_NAME}{_SD_PARAMS}\])++){_MESSAGE_5424}"
    rf"|(?:{_timestamp(_FRACTION_ISO, True)}|{_BSD_DATE}{_BSD_TIME}) {_HOST_3164} {_TAG_3164}(?:\[[0-9]+\])?: "
    ")"
)

_PRI = re.compile(r"<([0-9]{1,3})>")
_ISO_START = re.compile(r"[0-9]{4}-")
_VERSION_STEP = re.compile(rf"({_VERSION})(?= )")
_END = r"(?=[ \r\n]|\Z)"  # a field ends at a space, or at the end of the line, where the next is missing
_TIMESTAMP_5424 = re.compile(rf" (-|{_timestamp(_FRACTION_5424, False)}){_END}")
_TIMESTAMP_3164 = re.compile(rf"({_timestamp(_FRACTION_ISO, False)}|{_BSD_DATE}{_BSD_TIME})(?= )")
_FIELDS_5424 = (
    (re.compile(rf" ({_PRINTABLE}{{1,255}}){_END}"), "bad RFC 5424 hostname"),
    (re.compile(rf" ({_PRINTABLE}{{1,48}}){_END}"), "bad RFC 5424 app name"),
    (re.compile(rf" ({_PRINTABLE}{{1,128}}){_END}"), "bad RFC 5424 process id"),
    (re.compile(rf" ({_PRINTABLE}{{1,32}}){_END}"), "bad RFC 5424 message id"),
)
_SD_ELEMENT = re.compile(rf"\[({_SD_NAME})({_SD_PARAMS})\]")
_SD_PARAM = re.compile(rf' ({_SD_NAME})="({_SD_VALUE})"')
_SD_ESCAPE = re.compile(r'\\(["\\\]])')  # any other backslash stays, as RFC 5424 says
_NIL_SD = re.compile(r" -")
_MESSAGE_START = re.compile(_MESSAGE_5424)
_HOST_STEP = re.compile(rf" ({_HOST_3164})(?= )")
_TAG_STEP = re.compile(rf" ({_TAG_3164})(?:\[([0-9]+)\])?: ")

#: (SD-ID, ((PARAM-NAME, value with its escapes undone), ...)), in the order written
Element = tuple[str, tuple[tuple[str, str], ...]]


@dataclass(frozen=True, slots=True)
class SyslogHeader:
    priority: int
    version: int | None  #: None for RFC 3164
    timestamp: str | None  #: as written; None for RFC 5424's "-"
    hostname: str | None
    app_name: str | None  #: RFC 3164's TAG
    procid: str | None  #: RFC 3164's [PID]
    msgid: str | None  #: None in RFC 3164
    structured_data: tuple[Element, ...]  #: empty for "-" and in RFC 3164
    message_start: int  #: the index in the line where the message begins (after a BOM)


def message_start(line: str) -> int:
    """Where the message of a syslog ``line`` begins, or ParseError naming the bad field.
    The hot path: one match for a good line; the field-by-field reading only for a bad one."""
    start = _fast_message_start(line)
    return read_header(line).message_start if start is None else start


def _fast_message_start(line: str) -> int | None:
    """The single expression's reading: where the message starts, or None for a line it
    refuses (February 29 of a common year included)."""
    match = _FAST.match(line)
    if match is None or (match.lastindex is not None and not _is_leap_year(match[match.lastindex])):
        return None
    return match.end()


def read_header(line: str) -> SyslogHeader:
    """The header's fields, read one at a time so that a refusal can name its field."""
    if not line.startswith("<"):
        raise ParseError("no syslog prefix")
    pri = _PRI.match(line)
    if pri is None or (pri[1][0] == "0" and pri[1] != "0") or int(pri[1]) > 191:
        raise ParseError("bad syslog priority")
    position = pri.end()
    if "0" <= line[position : position + 1] <= "9" and not _ISO_START.match(line, position):
        return _read_5424(line, int(pri[1]), position)
    return _read_3164(line, int(pri[1]), position)


def _read_5424(line: str, priority: int, position: int) -> SyslogHeader:
    version = _VERSION_STEP.match(line, position)
    if version is None:
        raise ParseError("bad syslog version")
    timestamp = _TIMESTAMP_5424.match(line, version.end())
    if timestamp is None or not _is_leap_year_if_leap_day(timestamp[1]):
        raise ParseError("bad syslog timestamp")
    position = timestamp.end()
    fields: list[str | None] = []
    for pattern, reason in _FIELDS_5424:
        field = pattern.match(line, position)
        if field is None:
            raise ParseError(reason)
        fields.append(None if field[1] == "-" else field[1])
        position = field.end()
    elements, position = _read_structured_data(line, position)
    return SyslogHeader(
        priority=priority,
        version=int(version[1]),
        timestamp=None if timestamp[1] == "-" else timestamp[1],
        hostname=fields[0],
        app_name=fields[1],
        procid=fields[2],
        msgid=fields[3],
        structured_data=elements,
        message_start=position,
    )


def _read_structured_data(line: str, position: int) -> tuple[tuple[Element, ...], int]:
    """SP, then "-" or one or more elements, then SP and the message (its BOM skipped) or
    the end of the line; returns the elements and where the message starts."""
    elements: list[Element] = []
    nil = _NIL_SD.match(line, position)
    if nil is not None:
        position = nil.end()
    elif line.startswith(" [", position):
        position += 1
        while (element := _SD_ELEMENT.match(line, position)) is not None:
            params = tuple((name, _SD_ESCAPE.sub(r"\1", value)) for name, value in _SD_PARAM.findall(element[2]))
            elements.append((element[1], params))
            position = element.end()
    message = _MESSAGE_START.match(line, position) if nil is not None or elements else None
    if message is None:
        raise ParseError("bad RFC 5424 structured data")
    return tuple(elements), message.end()


def _read_3164(line: str, priority: int, position: int) -> SyslogHeader:
    timestamp = _TIMESTAMP_3164.match(line, position)
    if timestamp is None or not _is_leap_year_if_leap_day(timestamp[1]):
        raise ParseError("bad syslog timestamp")
    host = _HOST_STEP.match(line, timestamp.end())
    if host is None:
        raise ParseError("bad RFC 3164 hostname")
    tag = _TAG_STEP.match(line, host.end())
    if tag is None:
        raise ParseError("bad RFC 3164 tag")
    return SyslogHeader(
        priority=priority,
        version=None,
        timestamp=timestamp[1],
        hostname=host[1],
        app_name=tag[1],
        procid=tag[2],
        msgid=None,
        structured_data=(),
        message_start=tag.end(),
    )


def _is_leap_year_if_leap_day(timestamp: str) -> bool:
    return timestamp[4:10] != "-02-29" or _is_leap_year(timestamp)


def _is_leap_year(date: str) -> bool:
    """Whether the year of ``YYYY-...`` is a leap year of the proleptic Gregorian calendar."""
    year = int(date[:4])
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
