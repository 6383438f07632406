"""The statsd translation, as a table of exact strings (numbat-emitter's 08-to-statsd, extended)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from emitter import to_statsd
from emitter._statsd import sanitize_tag_key


@pytest.mark.parametrize(
    ("event", "line"),
    [
        # numbat-emitter's own table
        ({"name": "simple.event"}, "simple.event:1|c"),
        ({"name": "simple.value", "value": 42}, "simple.value:42|g"),
        ({"name": "empty.value", "value": 0}, "empty.value:0|g"),
        ({"name": "extra.data", "value": 47, "section": 31}, "extra.data:47|g|#section:31"),
        ({"name": "dirty.tag", " |-|4c|< 3|2 ": True}, "dirty.tag:1|c|#____4c___3_2_:true"),
        (
            {"name": "multi.tag", "value": 34, "multi": "pass", "meat": "popsickle", "elements": 5},
            "multi.tag:34|g|#multi:pass,meat:popsickle,elements:5",
        ),
        # counters, timers, sets, sample rates
        ({"name": "hits", "count": 3}, "hits:3|c"),
        ({"name": "hits", "count": 3, "rate": 0.5}, "hits:3|c|@0.5"),
        ({"name": "hits", "rate": 0.1}, "hits:1|c|@0.1"),
        ({"name": "g", "value": 2, "rate": 0.5}, "g:2|g"),
        ({"name": "latency", "timing": 12.5}, "latency:12.5|ms"),
        ({"name": "users", "set": "u-17"}, "users:u-17|s"),
        ({"name": "both", "value": 1, "count": 9}, "both:1|g"),
        # numbers rendered as JavaScript does
        ({"name": "f", "value": 42.0}, "f:42|g"),
        ({"name": "f", "value": -0.25}, "f:-0.25|g"),
        ({"name": "f", "value": 1, "ok": False}, "f:1|g|#ok:false"),
        # the reserved keys stay out of the tags; a key that only contains one stays in
        ({"name": "t", "value": 1, "time": 5, "offset": 3}, "t:1|g|#offset:3"),
        # non-scalars and None are not tags
        ({"name": "t", "value": 1, "list": [1], "nothing": None}, "t:1|g"),
        # framing characters cannot break the line
        ({"name": "a:b|c d", "value": 1, "k": "x|y,z w"}, "a_b_c_d:1|g|#k:x_y_z_w"),
    ],
)
def test_statsd_lines(event: dict, line: str) -> None:
    assert to_statsd(event) == line


def test_tag_keys_are_sanitized_like_node() -> None:
    assert sanitize_tag_key("a.b-c d\te") == "a_b_c_d_e"


LINE = re.compile(r"^[^:|\s]+:[^|\s]+\|(c|g|ms|s)(\|@[^|\s]+)?(\|#[^|\s]+:[^|\s,]*(,[^|\s]+:[^|\s,]*)*)?$")

scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text())


@given(st.text(min_size=1), st.dictionaries(st.text(min_size=1), scalars, max_size=6))
def test_any_event_gives_one_well_framed_line(name: str, fields: dict) -> None:
    line = to_statsd({**fields, "name": name})
    assert "\n" not in line
    assert LINE.match(line), line


@pytest.mark.parametrize(("value", "text"), [("", "_"), ("a|b c", "a_b_c"), ("1:2", "1_2")])
def test_a_value_never_breaks_the_framing(value: str, text: str) -> None:
    assert to_statsd({"name": "x", "value": value}) == f"x:{text}|g"
