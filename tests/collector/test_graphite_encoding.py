"""The Graphite sink's encoders and mapping, on any input: every event makes a line carbon
reads (checked by carbon's own code), or is left out with its reason; plaintext and
pickle carry the same points and convert into each other; a clean name is its own path;
the remembered paths are the paths made afresh; the resend window keeps what it must."""

from __future__ import annotations

import json
import math
import pickle
import re
import string
import struct
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collector.aggregate import GraphiteNaming
from collector.sinks.graphite._encoding import (
    MIN_MESSAGE_BYTES,
    PointEncoder,
    convert,
    decode,
    pickled,
    plaintext,
    protocol_of,
    split,
)
from collector.sinks.graphite._paths import PathMaker, Template, clean_path
from collector.sinks.graphite._window import Unconfirmed
from collector.wire import Batch, decoder_for

from .carbon import SYSTEM_PYTHON

text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
numbers = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63 - 1), st.floats(allow_nan=False, allow_infinity=False)
)
scalars = st.one_of(st.none(), st.booleans(), numbers, text)
values = st.one_of(scalars, st.just(math.nan), st.just(math.inf), st.just(-math.inf))
times = st.integers(min_value=-(2**62), max_value=2**62)
stored_times = st.integers(min_value=0, max_value=2**32 * 1000 - 1)  #: whisper's, in ms
fields = st.dictionaries(
    text.filter(lambda key: key not in ("name", "value", "time")),
    st.one_of(scalars, st.lists(st.integers(), max_size=2)),
    max_size=5,
)
SAFE = set(string.ascii_letters + string.digits + "_-")
PATH = re.compile(r"[A-Za-z0-9_\-]+(\.[A-Za-z0-9_\-]+)*")
TAG = re.compile(r"[A-Za-z0-9_\-.]+")


def event_of(name: str, value: object, time: int, extra: dict) -> dict:
    return {"name": name, "value": value, "time": time, **extra}


# -- the reference: numbat's mapping spelled out, character by character -----------------


def reference_segment(text: str) -> str:
    return "".join(c if c in SAFE else "_" for c in text)


def reference_path(name: str) -> str:
    return ".".join(reference_segment(part) for part in name.split(".") if part)


def reference_tag_text(value: object) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value).removesuffix(".0")  # the shortest text that reads back, a whole number without ".0"
    return value if isinstance(value, str) else None


def reference_tags(extra: dict) -> str:
    tags: dict[str, str] = {}
    for key, value in extra.items():
        shown = reference_tag_text(value)
        clean_key = "".join(c if c in SAFE or c == "." else "_" for c in key)
        if shown and clean_key and clean_key not in tags:
            tags[clean_key] = "".join(c if c in SAFE or c == "." else "_" for c in shown)
    return "".join(sorted(f";{key}={value}" for key, value in tags.items()))  # carbon's TaggedSeries.format


def finite_number(value: object) -> bool:
    return type(value) is int or (type(value) is float and math.isfinite(value))  # type: ignore[arg-type]


@given(name=text, value=values, time=times, extra=fields)
def test_an_event_is_one_point_on_numbat_mapping_or_left_out_with_its_reason(
    name: str, value: object, time: int, extra: dict
) -> None:
    event = event_of(name, value, time, extra)
    points, written, left_out = PointEncoder(PathMaker()).encode([event])
    if not finite_number(value):
        assert (points, written, left_out) == ([], 0, {"not a number": 1})
        return
    if not 0 <= time // 1000 < 2**32:
        assert (points, written, left_out) == ([], 0, {"time out of range": 1})
        return
    base = reference_path(name)
    if not base:
        assert (points, written, left_out) == ([], 0, {"no path": 1})
        return
    path = base + reference_tags(extra)
    if len(path) > 1024:
        assert left_out == {"path too long": 1}
        return
    assert (points, written, left_out) == ([(path, (time // 1000, value))], 1, {})
    name_part, *tags = path.split(";")
    assert PATH.fullmatch(name_part)
    keys = [tag.partition("=")[0] for tag in tags]
    assert len(keys) == len(set(keys))
    assert all(TAG.fullmatch(key) and TAG.fullmatch(value) for key, _, value in (t.partition("=") for t in tags))


@given(name=st.from_regex(PATH, fullmatch=True), value=numbers, time=stored_times)
def test_a_clean_name_is_its_own_path_and_our_graphite_decoder_reads_the_line_back(
    name: str, value: float, time: int
) -> None:
    points, _, _ = PointEncoder(PathMaker()).encode([{"name": name, "value": value, "time": time}])
    assert points == [(name, (time // 1000, value))]
    batch = Batch()
    decoder_for("graphite").decode([plaintext(points).rstrip(b"\n")], 0, batch)
    assert not batch.rejections
    [event] = batch.events
    assert event["name"] == name
    assert event["value"] == value  # repr reads back as the same float; an int as itself
    assert event["time"] == time // 1000 * 1000


@given(name=text, extra=fields, host=scalars)
def test_a_template_folds_fields_into_the_path_and_they_are_no_tags(name: str, extra: dict, host: object) -> None:
    extra = {**extra, "host": host}
    maker = PathMaker(prefix="dc1", template=Template.parse("servers.{host}.{name}"))
    made = maker.make(event_of(name, 1, 0, extra))
    host_text = reference_tag_text(host)
    base = ".".join(
        part for part in ("servers", reference_segment(host_text) if host_text else "", reference_path(name)) if part
    )
    remaining = {key: value for key, value in extra.items() if key != "host"}
    assert made == f"dc1.{base}{reference_tags(remaining)}"


@given(
    events=st.lists(
        st.builds(
            event_of,
            st.sampled_from(["a.b", "a.c", "x y"]),
            st.just(1.5),
            times,
            st.dictionaries(
                st.sampled_from(["host", "ok", "n"]), st.sampled_from(["h1", "h2", 0, 1, 1.0, True, False, "1"])
            ),
        ),
        max_size=30,
    )
)
def test_remembered_paths_are_the_paths_made_afresh(events: list[dict]) -> None:
    """The cache keys on values, and True == 1 == 1.0 as keys: it must never hand one's path to another."""
    maker = PathMaker()
    for event in events:
        assert maker.path_of(event) == maker.make(event)


#: Events of few keys and values, so that a batch of them meets known shapes and paths.
alike_events = st.lists(
    st.builds(
        event_of,
        st.sampled_from(["a.b", "app.heartbeat"]),
        st.sampled_from([1.5, 2, True, "x", math.inf, -math.inf, math.nan, None]),
        st.sampled_from([999, 1_700_000_000_123, -1000, 2**32 * 1000, 2**32 * 1000 - 1]),
        st.sampled_from([{}, {"host": "h1"}, {"host": 1}, {"host": True}, {"host": [1]}]),
    ),
    min_size=10,
    max_size=60,
)


@given(events=alike_events)
def test_a_batch_encodes_as_its_events_one_by_one(events: list[dict]) -> None:
    """The fast path (a known shape and path) gives what the slow one gives, event for event."""
    skip = lambda name: name.endswith("heartbeat")  # noqa: E731
    batch = PointEncoder(PathMaker(), skip=skip).encode(events)
    points, written, left_out = [], 0, {}
    for event in events:
        got, made, missed = PointEncoder(PathMaker(), skip=skip).encode([event])
        points += got
        written += made
        for reason, count in missed.items():
            left_out[reason] = left_out.get(reason, 0) + count
    assert repr(batch) == repr((points, written, left_out))  # repr: nan is nan


def test_the_bound_on_paths_refuses_new_paths_only() -> None:
    admitted: set[str] = set()

    def admit(path: str) -> str | None:
        if path in admitted or len(admitted) < 2:
            admitted.add(path)
            return None
        return "max_paths"

    encoder = PointEncoder(PathMaker(admit=admit))
    names = ["a", "b", "c", "a", "b", "c"]
    points, written, left_out = encoder.encode([{"name": n, "value": 1, "time": 0} for n in names])
    assert [path for path, _ in points] == ["a", "b", "a", "b"]
    assert (written, left_out) == (4, {"max_paths": 2})


def test_heartbeats_and_summaries() -> None:
    encoder = PointEncoder(PathMaker(prefix="p"), naming=GraphiteNaming(), skip=lambda name: name.endswith("heartbeat"))
    summary = {"name": "req", "time": 10_500, "kind": "counter", "env": "prod", "count": 30.0, "rate": 3.0}
    gauge = {"name": "temp", "time": 10_000, "kind": "gauge", "value": -1.5}
    passing = {"name": "event", "time": 10_000, "value": 1, "kind": "other"}  # no summary: raw mapping
    points, written, left_out = encoder.encode(
        [summary, {"name": "app.heartbeat", "value": 1, "time": 0}, gauge, passing]
    )
    assert points == [
        ("p.stats.counters.req.rate;env=prod", (10, 3.0)),
        ("p.stats.counters.req.count;env=prod", (10, 30.0)),
        ("p.stats.gauges.temp", (10, -1.5)),
        ("p.event;kind=other", (10, 1)),
    ]
    assert (written, left_out) == (3, {"heartbeat": 1})


point_lists = st.lists(
    st.tuples(
        st.from_regex(r"[A-Za-z0-9_.;=\-]{1,40}", fullmatch=True),
        st.tuples(st.integers(min_value=-(2**40), max_value=2**40), numbers),
    ),
    max_size=200,
)


@given(
    points=point_lists,
    max_message_bytes=st.sampled_from([MIN_MESSAGE_BYTES, 1 << 20]),
    max_message_points=st.integers(1, 300),
)
def test_plaintext_and_pickle_carry_the_same_points_and_convert_into_each_other(
    points: list, max_message_bytes: int, max_message_points: int
) -> None:
    lines, messages = plaintext(points), pickled(points, max_message_bytes, max_message_points)
    assert decode(lines) == points == decode(messages)
    assert lines.count(b"\n") == len(points)
    assert all(len(line.split(b" ")) == 3 for line in lines.splitlines())
    assert convert(lines, "pickle", max_message_bytes, max_message_points) == messages
    assert convert(messages, "plaintext") == lines
    assert convert(lines, "plaintext") is lines
    if points:
        assert (protocol_of(lines), protocol_of(messages)) == ("plaintext", "pickle")
    offset = 0
    while offset < len(messages):  # each message: its length, then a protocol 2 pickle of a list of points
        (length,) = struct.unpack_from("!L", messages, offset)
        payload = messages[offset + 4 : offset + 4 + length]
        assert len(payload) == length <= max_message_bytes
        assert payload[:2] == b"\x80\x02"
        message = pickle.loads(payload)
        assert isinstance(message, list)
        assert 0 < len(message) <= max_message_points
        offset += 4 + length


@given(points=point_lists, protocol=st.sampled_from(["plaintext", "pickle"]))
def test_a_body_splits_into_two_halves_of_its_points_in_its_protocol(points: list, protocol: str) -> None:
    body = plaintext(points) if protocol == "plaintext" else pickled(points, MIN_MESSAGE_BYTES, 50)
    halves = split(body, MIN_MESSAGE_BYTES, 50)
    if len(points) < 2:
        assert halves == []  # nothing to split: a body of one point is dropped whole
        return
    (first, first_points), (second, second_points) = halves
    assert decode(first) + decode(second) == points
    assert (first_points, second_points) == (len(points) // 2, len(points) - len(points) // 2)
    assert protocol_of(first) == protocol_of(second) == protocol


@pytest.mark.parametrize("body", [b"no spaces here\n", b"\x00\x00\x00\x09cut short", b"\x00\x00\x00\x01\x80"])
def test_a_body_that_is_none_of_ours_has_nothing_to_split(body: bytes) -> None:
    assert split(body) == []


def test_pickle_messages_stay_under_the_bound() -> None:
    points = [(f"long.path.{'x' * 900}.{i}", (i, float(i))) for i in range(1000)]
    messages = pickled(points, MIN_MESSAGE_BYTES, max_message_points=1000)
    sizes = []
    offset = 0
    while offset < len(messages):
        (length,) = struct.unpack_from("!L", messages, offset)
        sizes.append(length)
        offset += 4 + length
    assert len(sizes) > 10
    assert max(sizes) <= MIN_MESSAGE_BYTES
    assert decode(messages) == points


def test_a_pickle_naming_a_class_is_no_body() -> None:
    payload = pickle.dumps([("a", (1, 2.0)), Template(())], protocol=2)
    with pytest.raises(pickle.UnpicklingError):
        decode(struct.pack("!L", len(payload)) + payload)


@pytest.mark.parametrize(
    ("template", "problem"),
    [
        ("{host}", "must hold {name}"),
        ("{name}.{}", "an empty {}"),
        ("a b.{name}", "literal text"),
        ("{name}.x}", "a brace"),
    ],
)
def test_a_bad_template_is_refused_naming_why(template: str, problem: str) -> None:
    with pytest.raises(ValueError, match=re.escape(problem)):
        Template.parse(template)


@given(name=text)
def test_cleaning_a_path_twice_changes_nothing(name: str) -> None:
    once = clean_path(name)
    assert clean_path(once) == once
    assert once == reference_path(name)


# -- carbon's own code reads what we write -------------------------------------------------

_CARBON_CHECK = """
import json, struct, sys
from carbon.util import TaggedSeries, get_unpickler

cases = json.load(sys.stdin)
unpickler = get_unpickler(insecure=False)
out = []
for case in cases:
    points = []
    for line in case["lines"].encode("latin-1").splitlines():
        # carbon's MetricLineReceiver.lineReceived, then its cache's normalisation of the path
        metric, value, timestamp = line.decode("utf-8").strip().split()
        points.append([TaggedSeries.parse(metric).path, [float(timestamp), float(value)]])
    messages = case["pickle"].encode("latin-1")
    pickled, offset = [], 0
    while offset < len(messages):
        (length,) = struct.unpack_from("!L", messages, offset)
        for metric, (timestamp, value) in unpickler.loads(messages[offset + 4 : offset + 4 + length]):
            pickled.append([TaggedSeries.parse(metric).path, [float(timestamp), float(value)]])
        offset += 4 + length
    out.append({"lines": points, "pickle": pickled})
json.dump(out, sys.stdout)
"""


def test_carbon_reads_every_line_and_message_as_we_meant_it() -> None:
    """A sample of any events, encoded both ways, read by carbon's own receivers' code
    (its line split and float(), its safe unpickler) and its path normalisation, which
    also refuses any tag carbon cannot take: carbon stores each path as we wrote it."""
    cases: list[list] = []

    @settings(max_examples=400, database=None)
    @given(name=text, value=numbers, time=stored_times, extra=fields)
    def collect(name: str, value: float, time: int, extra: dict) -> None:
        points, _, _ = PointEncoder(PathMaker()).encode([event_of(name, value, time, extra)])
        cases.append(points)

    collect()
    payload = json.dumps(
        [{"lines": plaintext(p).decode("latin-1"), "pickle": pickled(p).decode("latin-1")} for p in cases]
    )
    result = subprocess.run(
        [SYSTEM_PYTHON, "-c", _CARBON_CHECK], input=payload, capture_output=True, text=True, timeout=120, check=True
    )
    read = json.loads(result.stdout)
    assert len(read) == len(cases) > 100
    for points, seen in zip(cases, read, strict=True):
        expected = [[path, [float(at), float(value)]] for path, (at, value) in points]
        assert seen["lines"] == expected
        assert seen["pickle"] == expected


# -- the resend window ---------------------------------------------------------------------


@given(
    operations=st.lists(
        st.one_of(
            st.tuples(st.just("write"), st.integers(1, 5), st.floats(0, 2)),
            st.tuples(st.just("confirm"), st.floats(0, 5), st.integers(0, 100)),
            st.tuples(st.just("take")),
            st.tuples(st.just("confirm all")),
        ),
        max_size=40,
    ),
    seconds=st.floats(0, 3),
)
def test_the_window_confirms_only_what_is_old_enough_and_acknowledged(operations: list, seconds: float) -> None:
    window = Unconfirmed(seconds)
    now, sent, written, confirmed, taken = 0.0, 0, [], 0, []
    for operation in operations:
        if operation[0] == "write":
            count, pause = operation[1], operation[2]
            now += pause
            body = bytes([len(written) % 256]) * count
            sent += len(body)
            window.written(body, count, now, sent)
            written.append((body, count, now, sent))
        elif operation[0] == "confirm":
            at, acknowledged = now + operation[1], min(sent, operation[2])
            before = list(written)
            got = window.confirm(at, acknowledged)
            gone = before[: len(before) - len(window)]
            assert got == sum(count for _, count, _, _ in gone)
            assert all(when <= at - seconds and end <= acknowledged for _, _, when, end in gone)
            if len(window):  # the first kept is too young or not acknowledged
                _, _, when, end = before[len(gone)]
                assert when > at - seconds or end > acknowledged
            confirmed += got
            written = before[len(gone) :]
        elif operation[0] == "take":
            taken += window.take()
            assert [(b, c) for b, c, _, _ in written] == taken[len(taken) - len(written) :]
            written = []
        else:
            confirmed += window.confirm_all()
            written = []
        assert window.events == sum(count for _, count, _, _ in written)
        assert window.bytes == sum(len(body) for body, _, _, _ in written)
    total = sum(op[1] for op in operations if op[0] == "write")
    assert confirmed + sum(count for _, count in taken) + window.events == total
