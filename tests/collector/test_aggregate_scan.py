"""The compiled statsd scan (collector/aggregate/_statsd_scan.py) against the Python path it
stands in for: the statsd decoder and :meth:`Aggregator.add`.

Two properties, over lines drawn near the edge of the shape the scan takes (signs, points,
15 and 16 digits, rates of 0 and past 1, blanks, tags, sets, events, stray bytes):

- line by line, a line the scan takes decodes to one event whose name, kind, value (bit
  for bit), weight and gauge-delta flag are the scan's; a line the scan leaves is left
  whole, in order;
- stream by stream, payloads taken the way the listeners take them (scan, decode what is
  left, the whole payload through the decoder when the Aggregator says the order of the
  lines matters) give the very summaries, bit for bit, and the very counts, that the
  decoder and ``add`` give, across flushes, with the series and sample bounds biting.
"""

from __future__ import annotations

import math
import struct
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from collector.aggregate import AggregationOptions, Aggregator
from collector.aggregate._statsd_scan import scan_statsd
from collector.wire import Batch, decoder_for

KIND_OF_TYPE = {"c": "counter", "ms": "timer", "h": "timer", "d": "timer", "g": "gauge"}
NAMES = ["a", "b.c", "req-ms", "x|y", "é", "_sc", "a,env=1", "a b"]
DECODER_FIELDS = {"name", "value", "time", "statsd_type", "rate", "gauge_delta"}
DIGITS = st.text("0123456789", min_size=1, max_size=17)


@st.composite
def numbers(draw: st.DrawFn) -> str:
    whole = draw(st.sampled_from(["", *draw(st.lists(DIGITS, max_size=1))]))
    point = draw(st.sampled_from(["", "."]))
    fraction = draw(DIGITS) if point and draw(st.booleans()) else ""
    sign = draw(st.sampled_from(["", "", "-", "+"]))
    exponent = draw(st.sampled_from(["", "", "", "e2", "E-1"]))
    return sign + whole + point + fraction + exponent


@st.composite
def lines(draw: st.DrawFn) -> bytes:
    if draw(st.integers(0, 30)) == 0:
        return draw(st.binary(max_size=20)).replace(b"\n", b"")
    name = draw(st.sampled_from(NAMES))
    value = draw(numbers())
    kind = draw(st.sampled_from(["c", "c", "g", "g", "ms", "h", "d", "s", "x", ""]))
    rate = draw(st.sampled_from(["", "", "", "|@0.5", "|@0.1", "|@1", "|@0", "|@1.5", "|@-0.5", "|#env:prod", "|"]))
    extra = draw(st.sampled_from(["", "", "", "", ":2", " ", "\r", "|T1700000000"]))
    text = f"{name}:{value}|{kind}{rate}{extra}" if extra != ":2" else f"{name}:{value}{extra}|{kind}{rate}"
    return text.encode()


def bits(value: float) -> bytes:
    return struct.pack("<d", value)


def decoded(line: bytes) -> list[dict[str, Any]]:
    batch = Batch()
    decoder_for("statsd", None).decode([line], 0, batch)
    return batch.events


@settings(max_examples=500, deadline=None)
@given(st.lists(lines(), max_size=12))
def test_a_line_taken_is_the_event_the_decoder_makes(drawn: list[bytes]) -> None:
    scan = scan_statsd(b"\n".join(drawn), 64)
    taken = [(name, kind, *line) for name, kind, number in _series(scan) for line in scan.lines(number)]
    expected_taken, expected_left = [], []
    for line in drawn:
        shape = _usual_shape(line, decoded(line))
        if shape is not None:
            expected_taken.append(shape)
        elif line:  # a blank line is skipped by both
            expected_left.append(line)
    assert scan.left == expected_left
    assert sorted(_comparable(taken)) == sorted(_comparable(expected_taken))
    assert scan.taken == len(expected_taken)


def _series(scan: Any) -> list[tuple[str, str, int]]:
    return [(name, kind, number) for number, (name, kind) in enumerate(zip(scan.names, scan.kind_names(), strict=True))]


def _usual_shape(line: bytes, events: list[dict[str, Any]]) -> tuple[str, str, float, float, bool] | None:
    """What the scan must make of ``line``, by the decoder's events and the shape's own
    rules (not the scan's code): None for a line it must leave."""
    if len(line) > 64 or len(events) != 1 or not line.isascii() or line.startswith(b"_") or line != line.strip():
        return None
    event = events[0]
    if event.get("statsd_type") not in KIND_OF_TYPE or set(event) - DECODER_FIELDS:
        return None
    name, _, rest = line.decode().partition(":")
    value_text, _, after = rest.partition("|")
    _, bar, section = after.partition("|")
    if "," in name or not all(0x21 <= ord(c) <= 0x7E for c in name):
        return None
    if "e" in value_text.lower() or sum(c.isdigit() for c in value_text) > 15:
        return None
    rate_text = section.removeprefix("@")
    if bar and (rate_text == section or not rate_text.replace(".", "", 1).isdigit() or len(rate_text) > 16):
        return None
    rate = event.get("rate")
    return (
        event["name"],
        KIND_OF_TYPE[event["statsd_type"]],
        float(event["value"]),
        1.0 if rate is None else 1 / rate,
        bool(event.get("gauge_delta", False)),
    )


def _comparable(rows: list[Any]) -> list[tuple[Any, ...]]:
    return [(name, kind, bits(value), bits(weight), delta) for name, kind, value, weight, delta in rows]


# -- streams --------------------------------------------------------------------------


def through_the_decoder(aggregator: Aggregator, payload: bytes) -> None:
    batch = Batch()
    decoder_for("statsd", None).decode_payload(payload, 0, batch)
    for event in batch.events:
        aggregator.add(event)


def through_the_scan(aggregator: Aggregator, payload: bytes) -> None:
    """As collector.listeners' Intake takes a payload when aggregations alone take it."""
    scan = scan_statsd(payload, 64)
    left = Batch()
    decoder_for("statsd", None).decode(scan.left, 0, left)
    if not aggregator.add_scan(scan, left.events):
        through_the_decoder(aggregator, payload)
        return
    for event in left.events:
        aggregator.add(event)


def exactly(summaries: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """Summaries comparable bit for bit (-0.0 is not 0.0, NaN is NaN), in a stable order."""
    rows = []
    for summary in summaries:
        fields = tuple(
            sorted((key, bits(value) if isinstance(value, float) else value) for key, value in summary.items())
        )
        rows.append(fields)
    return sorted(rows, key=repr)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.lists(st.lists(lines(), max_size=8), max_size=4), min_size=1, max_size=3),
    st.integers(1, 12),
    st.integers(1, 6),
    st.booleans(),
)
def test_payloads_scanned_summarise_as_the_decoder_and_add_do(
    intervals: list[list[list[bytes]]], max_series: int, max_samples: int, sample_rate_in_key: bool
) -> None:
    options = AggregationOptions(
        name="a",
        interval=1.0,
        max_series=max_series,
        max_samples=max_samples,
        sample_rate_in_key=sample_rate_in_key,
    )
    by_decoder, by_scan = Aggregator(options), Aggregator(options)
    for flush, payloads in enumerate(intervals, start=1):
        for drawn in payloads:
            payload = b"\n".join(drawn)
            through_the_decoder(by_decoder, payload)
            through_the_scan(by_scan, payload)
        assert exactly(by_scan.flush(flush * 1000)) == exactly(by_decoder.flush(flush * 1000))
    assert by_scan.stats == by_decoder.stats
    assert by_scan.series == by_decoder.series


def test_a_counter_sums_in_arrival_order_across_payloads() -> None:
    """0.1 + 0.2 + 0.3 in that order is 0.6000000000000001; summed per payload first it would be 0.6."""
    options = AggregationOptions(name="a", interval=1.0)
    by_decoder, by_scan = Aggregator(options), Aggregator(options)
    for payload in (b"n:0.1|c", b"n:0.2|c\nn:0.3|c"):
        through_the_decoder(by_decoder, payload)
        through_the_scan(by_scan, payload)
    (summary,) = by_scan.flush(1000)
    assert summary["count"] == 0.1 + 0.2 + 0.3 != 0.6
    assert exactly([summary]) == exactly(by_decoder.flush(1000))


def test_a_gauge_set_then_changed_in_one_payload() -> None:
    options = AggregationOptions(name="a", interval=1.0)
    aggregator = Aggregator(options)
    aggregator.add_scan(scan_statsd(b"g:0|g\ng:-5|g\nh:7|g\nh:+2|g\nh:-1|g", 64))
    levels = {summary["name"]: summary["value"] for summary in aggregator.flush(1000)}
    assert levels == {"g": -5.0, "h": 8.0}


def test_what_the_scan_leaves() -> None:
    payload = b"_e{1,1}:a|b\nt:1|c|#env:prod\nu:1|s\nv:1e3|c\nw:1:2|c\nx:1|c|@0\n\n y:1|c\nz,env=1:1|c\nok:1|c"
    scan = scan_statsd(payload, 64)
    assert scan.names == ["ok"]
    assert scan.left == [line for line in payload.split(b"\n") if line and line != b"ok:1|c"]


def test_a_line_past_the_bound_is_left_for_the_decoder_to_refuse() -> None:
    scan = scan_statsd(b"short:1|c\n" + b"long" * 20 + b":1|c", 64)
    assert scan.names == ["short"]
    assert len(scan.left) == 1


def test_values_are_read_as_python_reads_them() -> None:
    texts = ["0.1", "123456789012345", "1.", ".5", "-0", "-0.0", "+7", "0.00000000000001", "99999999.9999999"]
    scan = scan_statsd(b"\n".join(b"n%d:%s|ms" % (index, text.encode()) for index, text in enumerate(texts)), 64)
    read = [scan.values_of(number)[0] for number in range(len(texts))]
    assert [bits(value) for value in read] == [
        bits(float(int(t) if t.lstrip("+-").isdigit() else float(t))) for t in texts
    ]
    assert math.copysign(1.0, read[4]) == 1.0  # the integer -0 is 0
    assert math.copysign(1.0, read[5]) == -1.0
