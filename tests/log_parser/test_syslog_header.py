"""The syslog header reader: RFC 5424 as its grammar says and RFC 3164 as CDNs send it,
each malformed field refused with its reason, headers generated from the grammar read
back exactly, and RFC 5424 datagrams counted by the real ``live --syslog udp://`` command."""

from __future__ import annotations

import datetime as dt
import signal
import socket

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from log_parser.core import ParseError, Tally
from log_parser.core._counting import tally_lines
from log_parser.core.formats import FastlyParser
from log_parser.core.formats._syslog_header import (
    Element,
    SyslogHeader,
    _fast_message_start,
    message_start,
    read_header,
)

from ..processes import terminate
from ..waiting import wait_for
from .test_live import free_port, log_line, start_live, stored_downloads

ACCESS = '1.2.3.4 - - [04/Jul/2016:22:37:26 +0000] "GET /express/-/express-4.18.2.tgz HTTP/1.1" 200 123 "-" "npm/10"'
FASTLY_DOCUMENTED = f'<134>1 2016-07-04T22:37:26Z SJC LogTest - - [token@41058 tag="fastly"] {ACCESS}'
NIL_STRUCTURED_DATA = f"<134>1 2016-07-04T22:37:26Z host app - - - {ACCESS}"
NUMERIC_PROCID = f"<134>1 2016-07-04T22:37:26.123+02:00 host app 4242 ID47 - {ACCESS}"
ESCAPED = '<134>1 - h a - - [x@1 a="\\]\\"\\\\"] \ufeff[x]'  # the value is ]"\ and the message [x]
JULY_4 = int(dt.datetime(2016, 7, 4, 22, 37, tzinfo=dt.UTC).timestamp())


def test_rfc_5424_lines_are_counted_as_downloads() -> None:
    tally = Tally()
    tally_lines([FASTLY_DOCUMENTED, NIL_STRUCTURED_DATA, NUMERIC_PROCID], FastlyParser(), tally)
    assert tally.rejected == {}
    assert tally.downloads == {("express", "4.18.2", JULY_4): 3}


def test_the_documented_fastly_header_field_by_field() -> None:
    assert read_header(FASTLY_DOCUMENTED) == SyslogHeader(
        priority=134,
        version=1,
        timestamp="2016-07-04T22:37:26Z",
        hostname="SJC",
        app_name="LogTest",
        procid=None,
        msgid=None,
        structured_data=(("token@41058", (("tag", "fastly"),)),),
        message_start=FASTLY_DOCUMENTED.index("1.2.3.4"),
    )
    header = read_header(NUMERIC_PROCID)
    assert (header.timestamp, header.procid, header.msgid, header.structured_data) == (
        "2016-07-04T22:37:26.123+02:00",
        "4242",
        "ID47",
        (),
    )


@pytest.mark.parametrize(
    ("line", "message"),
    [
        # escaped '"', '\' and ']' in values, a bare ']' inside quotes, two elements, then a BOM
        ('<13>1 - h a - - [x@1 a="q\\"b\\\\c\\]d" b="]"][y] \ufeffMSG', "MSG"),
        ('<13>1 - h a - - [x@1 a="\\n"] MSG', "MSG"),  # any other backslash is itself
        ("<0>1 - - - - - -", ""),  # no MSG at all
        ("<191>999 - - - - - - ", ""),  # an empty MSG
        ("<13>1 - - - - - -\n", "\n"),  # a line read from a file keeps its newline
        ("<13>1 2024-02-29T23:59:59.999999-12:00 h a p m - MSG", "MSG"),  # a leap day, six fraction digits
        ("<13>1 - h a - - - [x] is part of the message", "[x] is part of the message"),
    ],
)
def test_rfc_5424_corners(line: str, message: str) -> None:
    assert line[message_start(line) :] == message


@pytest.mark.parametrize(
    ("line", "message", "procid"),
    [
        (f"<134>Jul  4 22:37:26 host tag[42]: {ACCESS}", ACCESS, "42"),
        (f"<134>Jul 04 22:37:26 host tag: {ACCESS}", ACCESS, None),
        (f"<134>Feb 29 00:00:00 host tag: {ACCESS}", ACCESS, None),  # no year: it may be a leap day
        ('<134>2025-10-26T23:57:34Z cache-chi-kigq8000030 s3-request-logs[257678]: {"a": 1}', '{"a": 1}', "257678"),
        (f"<134>2016-07-04T22:37:26.123456789+02:00 host tag: {ACCESS}", ACCESS, None),
    ],
)
def test_rfc_3164_lines_still_read(line: str, message: str, procid: str | None) -> None:
    assert line[message_start(line) :] == message
    header = read_header(line)
    assert (header.version, header.procid) == (None, procid)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (ACCESS, "no syslog prefix"),
        (" <134>1 - h a - - - x", "no syslog prefix"),
        ("<192>1 - h a - - - x", "bad syslog priority"),
        ("<013>1 - h a - - - x", "bad syslog priority"),
        ("<1340>1 - h a - - - x", "bad syslog priority"),
        ("<>1 - h a - - - x", "bad syslog priority"),
        ("<134 1 - h a - - - x", "bad syslog priority"),
        ("<134>0 - h a - - - x", "bad syslog version"),
        ("<134>01 - h a - - - x", "bad syslog version"),
        ("<134>1000 - h a - - - x", "bad syslog version"),
        ("<134>1- h a - - - x", "bad syslog version"),
        ("<134>1 2016-07-04 22:37:26Z h a - - - x", "bad syslog timestamp"),
        ("<134>1 2016-07-04T22:37:26 h a - - - x", "bad syslog timestamp"),  # no zone
        ("<134>1 2016-07-04T22:37:26.1234567Z h a - - - x", "bad syslog timestamp"),
        ("<134>1 2016-07-04T24:00:00Z h a - - - x", "bad syslog timestamp"),
        ("<134>1 2016-07-04T23:59:60Z h a - - - x", "bad syslog timestamp"),  # no leap seconds
        ("<134>1 2016-07-04T22:37:26+0200 h a - - - x", "bad syslog timestamp"),
        ("<134>1 2016-07-04t22:37:26z h a - - - x", "bad syslog timestamp"),
        ("<134>1 2016-04-31T22:37:26Z h a - - - x", "bad syslog timestamp"),
        ("<134>1 2023-02-29T22:37:26Z h a - - - x", "bad syslog timestamp"),
        ("<134>1 1900-02-29T22:37:26Z h a - - - x", "bad syslog timestamp"),
        ("<134>1 -- h a - - - x", "bad syslog timestamp"),
        ("<134>1 -  a - - - x", "bad RFC 5424 hostname"),
        (f"<134>1 - {'h' * 256} a - - - x", "bad RFC 5424 hostname"),
        ("<134>1 - hôst a - - - x", "bad RFC 5424 hostname"),
        ("<134>1 - h", "bad RFC 5424 app name"),
        (f"<134>1 - h {'a' * 49} - - - x", "bad RFC 5424 app name"),
        (f"<134>1 - h a {'p' * 129} - - x", "bad RFC 5424 process id"),
        (f"<134>1 - h a - {'m' * 33} - x", "bad RFC 5424 message id"),
        ("<134>1 - h a - -", "bad RFC 5424 structured data"),  # none at all
        ("<134>1 - h a - - -x", "bad RFC 5424 structured data"),
        ("<134>1 - h a - - [] x", "bad RFC 5424 structured data"),
        ("<134>1 - h a - - [x a=b] x", "bad RFC 5424 structured data"),
        ('<134>1 - h a - - [x a="b] x', "bad RFC 5424 structured data"),  # ']' inside quotes ends nothing
        ('<134>1 - h a - - [x a="b\\"] x', "bad RFC 5424 structured data"),  # nor does an escaped '"'
        ('<134>1 - h a - - [x a="b"]x', "bad RFC 5424 structured data"),
        ('<134>1 - h a - - [x a="b"c="d"] x', "bad RFC 5424 structured data"),
        ('<134>1 - h a - - [x a ="b"] x', "bad RFC 5424 structured data"),
        (f"<134>1 - h a - - [{'x' * 33}] x", "bad RFC 5424 structured data"),
        ("<134>Jul 32 22:37:26 host tag: x", "bad syslog timestamp"),
        ("<134>Apr 31 22:37:26 host tag: x", "bad syslog timestamp"),
        ("<134>Jly  4 22:37:26 host tag: x", "bad syslog timestamp"),
        ("<134>Jul  4 22:37 host tag: x", "bad syslog timestamp"),
        ("<134>2016-07-04T22:37:26 host tag: x", "bad syslog timestamp"),
        ("<134>", "bad syslog timestamp"),
        ("<134>Jul  4 22:37:26 host", "bad RFC 3164 hostname"),
        ("<134>Jul  4 22:37:26 host tag x", "bad RFC 3164 tag"),
        ("<134>Jul  4 22:37:26 host tag[x]: x", "bad RFC 3164 tag"),
    ],
)
def test_each_malformed_field_is_refused_with_its_reason(line: str, reason: str) -> None:
    with pytest.raises(ParseError, match=f"^{reason}$"):
        message_start(line)
    with pytest.raises(ParseError, match=f"^{reason}$"):
        read_header(line)


# -- headers generated from RFC 5424's grammar --------------------------------------------

PRINTUSASCII = "".join(map(chr, range(33, 127)))
SD_NAME_CHARS = PRINTUSASCII.replace("=", "").replace("]", "").replace('"', "")


def field(max_size: int) -> st.SearchStrategy[str]:
    """A header field: "-" (the nil value) or 1 to ``max_size`` printable characters."""
    return st.one_of(st.just("-"), st.text(PRINTUSASCII, min_size=1, max_size=max_size))


@st.composite
def timestamps(draw: st.DrawFn) -> str:
    day = draw(st.dates(min_value=dt.date(1000, 1, 1)))  # four-digit years, leap days included
    clock = draw(st.times()).replace(microsecond=0).isoformat()
    digits = draw(st.integers(0, 6))
    fraction = "." + "".join(draw(st.lists(st.sampled_from("0123456789"), min_size=digits, max_size=digits)))
    offset = draw(
        st.one_of(
            st.just("Z"),
            st.builds("{}{:02}:{:02}".format, st.sampled_from("+-"), st.integers(0, 23), st.integers(0, 59)),
        )
    )
    return f"{day.isoformat()}T{clock}{fraction if digits else ''}{offset}"


def escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


values = st.text(st.one_of(st.sampled_from('"\\] ='), st.characters(codec="utf-8")), max_size=20)
sd_names = st.text(SD_NAME_CHARS, min_size=1, max_size=32)
sd_elements = st.tuples(sd_names, st.lists(st.tuples(sd_names, values), max_size=3).map(tuple))


def structured_data_text(elements: tuple[Element, ...]) -> str:
    """Elements as RFC 5424 writes them, '"', '\\' and ']' escaped in values; "-" for none."""
    written = []
    for sd_id, params in elements:
        written.append(f"[{sd_id}" + "".join(f' {name}="{escape(value)}"' for name, value in params) + "]")
    return "".join(written) or "-"


@st.composite
def rfc_5424_lines(draw: st.DrawFn) -> tuple[str, str, SyslogHeader]:
    """A line from the grammar, its message (without the BOM), and the header it holds."""
    priority, version = draw(st.integers(0, 191)), draw(st.integers(1, 999))
    timestamp = draw(st.one_of(st.just("-"), timestamps()))
    hostname, app_name, procid, msgid = draw(field(255)), draw(field(48)), draw(field(128)), draw(field(32))
    structured_data = tuple(draw(st.lists(sd_elements, max_size=3)))
    header = f"<{priority}>{version} {timestamp} {hostname} {app_name} {procid} {msgid} "
    header += structured_data_text(structured_data)
    message = draw(st.one_of(st.none(), st.text().filter(lambda m: not m.startswith("\ufeff"))))
    line = header if message is None else f"{header} {chr(0xFEFF) if draw(st.booleans()) else ''}{message}"
    nil = {"-": None}
    expected = SyslogHeader(
        priority=priority,
        version=version,
        timestamp=nil.get(timestamp, timestamp),
        hostname=nil.get(hostname, hostname),
        app_name=nil.get(app_name, app_name),
        procid=nil.get(procid, procid),
        msgid=nil.get(msgid, msgid),
        structured_data=structured_data,
        message_start=len(line) - len(message or ""),
    )
    return line, message or "", expected


@given(rfc_5424_lines())
@example(("<0>1 - - - - - -", "", SyslogHeader(0, 1, None, None, None, None, None, (), 16)))
@example(
    (ESCAPED, "[x]", SyslogHeader(134, 1, None, "h", "a", None, None, (("x@1", (("a", ']"\\'),)),), len(ESCAPED) - 3))
)
def test_generated_rfc_5424_headers_give_back_their_message_and_fields(
    generated: tuple[str, str, SyslogHeader],
) -> None:
    line, message, header = generated
    assert line[message_start(line) :] == message
    assert _fast_message_start(line) == header.message_start  # a good line is read by the single expression
    assert read_header(line) == header


def damage(line: str, at: int, junk: str) -> str:
    """``line`` with the character at ``at`` replaced by ``junk`` (nothing, one or two)."""
    at %= len(line) + 1
    return line[:at] + junk + line[at + 1 :]


RFC_3164 = [f"<134>Jul  4 22:37:26 host tag[42]: {ACCESS}", f"<134>2016-07-04T22:37:26.5+02:00 host tag: {ACCESS}"]
junk = st.text(st.one_of(st.sampled_from(' -[]"\\=:TZ0123456789<>\ufeff\n'), st.characters()), max_size=2)
suspicious_lines = st.one_of(
    st.text(max_size=200),
    st.builds(
        "<{}>{}".format,
        st.integers(0, 999),
        st.text(st.one_of(st.sampled_from(' -[]"\\=:T0123456789'), st.characters()), max_size=120),
    ),
    st.builds(damage, rfc_5424_lines().map(lambda generated: generated[0]), st.integers(0, 400), junk),
    st.builds(damage, st.sampled_from(RFC_3164), st.integers(0, 60), junk),
)


@given(suspicious_lines)
def test_arbitrary_text_is_read_or_refused_with_parse_error_and_both_readings_agree(line: str) -> None:
    """The single expression and the field-by-field reading accept the same lines and
    find the same message in them; a refusal is a ParseError, nothing else."""
    fast = _fast_message_start(line)
    try:
        header = read_header(line)
    except ParseError as refused:
        assert fast is None
        with pytest.raises(ParseError, match=f"^{refused}$"):
            message_start(line)
        return
    assert fast == header.message_start == message_start(line)


# -- the real command -------------------------------------------------------------------


def test_live_counts_rfc_5424_datagrams_over_udp(tmp_path) -> None:
    db = tmp_path / "downloads.sqlite"
    port = free_port(socket.SOCK_DGRAM)
    live = start_live(
        "--syslog", f"udp://127.0.0.1:{port}", "--format", "fastly", "--db", str(db), "--flush-interval", "0.2"
    )
    headers = [
        '<134>1 2024-05-01T12:00:07Z SJC LogTest - - [token@41058 tag="fastly"]',
        "<134>1 2024-05-01T12:00:07Z host app - - -",
        "<134>1 2024-05-01T12:00:07.123+02:00 host app 4242 ID47 -",
    ]
    messages = [  # the third kind with a BOM before its message
        f"{headers[i % 3]} {chr(0xFEFF) * (i % 3 == 2)}{log_line(i, '/express/-/express-4.18.2.tgz')}".encode()
        for i in range(30)
    ]
    messages.insert(10, f"<999>1 - h a - - - {log_line(0, '/express/-/express-4.18.2.tgz')}".encode())  # refused
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            # UDP says nothing of a listener: send a download of another package (RFC 3164, as
            # read before) until one is stored
            readiness = (
                f"<134>2024-05-01T12:00:07Z cache-ams21 registry[1]: {log_line(0, '/lodash/-/lodash-4.17.21.tgz')}"
            )
            assert wait_for(
                lambda: sender.sendto(readiness.encode(), ("127.0.0.1", port)) and stored_downloads(db, "lodash") > 0,
                20,
            )
            for message in messages:
                sender.sendto(message, ("127.0.0.1", port))
        assert wait_for(lambda: stored_downloads(db, "express") == 30, 20), stored_downloads(db, "express")
        live.send_signal(signal.SIGTERM)
        assert live.wait(20) == 0, live.stderr.read()  # type: ignore[union-attr]
    finally:
        terminate(live)
    assert stored_downloads(db, "express") == 30
