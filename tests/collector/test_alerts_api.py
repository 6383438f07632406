"""The alerts sink's request parser (collector/sinks/alerts/_api.py), over any body: a
silence it accepts is what was asked, and anything else is a BadRequest (a 400 saying
why), never another exception (which would be a 500, or worse)."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from collector.sinks.alerts._api import MAX_COMMENT, MAX_MATCH, MAX_SILENCE_SECONDS, BadRequest, silence_request

NOW = 1_700_000_000_000
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
FIELDS = st.fixed_dictionaries(
    {},
    optional={
        "match": st.text(max_size=MAX_MATCH + 2) | JSON,
        "duration": st.floats(allow_nan=True) | st.integers() | JSON,
        "ends_ms": st.integers() | JSON,
        "comment": st.text(max_size=MAX_COMMENT + 2) | JSON,
        "other": JSON,
    },
)


def parsed(body: bytes) -> tuple[str, int, str] | None:
    try:
        return silence_request(body, NOW)
    except BadRequest as refusal:
        reason = str(refusal)
    assert reason  # it says why
    return None


@given(st.binary(max_size=64))
def test_any_bytes_are_a_silence_or_a_bad_request(body: bytes) -> None:
    parsed(body)


@given(FIELDS)
def test_any_object_is_the_silence_it_asks_for_or_a_bad_request(document: dict) -> None:
    try:
        body = orjson.dumps(document)
    except (TypeError, orjson.JSONEncodeError):
        return  # not JSON (NaN is, to orjson, null: drawn as it is)
    result = parsed(body)
    if result is None:
        return
    match, ends_ms, comment = result
    assert (match, comment) == (document["match"], document.get("comment", ""))
    assert 0 < len(match) <= MAX_MATCH
    assert len(comment) <= MAX_COMMENT
    assert isinstance(ends_ms, int)
    assert NOW < ends_ms <= NOW + MAX_SILENCE_SECONDS * 1000
    assert set(document) <= {"match", "duration", "ends_ms", "comment"}
    if "duration" in document:
        assert "ends_ms" not in document
        assert ends_ms == NOW + round(document["duration"] * 1000)
    else:
        assert ends_ms == document["ends_ms"]


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        ({"match": "a/*", "duration": 1e308}, "duration"),
        ({"match": "a/*", "duration": 60, "ends_ms": NOW + 1}, "one of"),
        ({"match": "", "duration": 60}, "match"),
        ({"match": "a/*", "ends_ms": NOW}, "future"),
        ({"match": "a/*", "ends_ms": True}, "ends_ms"),
        ({"match": "a/*", "ends_ms": NOW + 11 * 366 * 86_400_000}, "ten years"),
    ],
)
def test_bad_silences_say_why(document: dict, reason: str) -> None:
    with pytest.raises(BadRequest, match=reason):
        silence_request(orjson.dumps(document), NOW)


def test_a_silence_for_a_minute() -> None:
    assert silence_request(b'{"match": "heartbeat/web/*", "duration": 60, "comment": "deploy"}', NOW) == (
        "heartbeat/web/*",
        NOW + 60_000,
        "deploy",
    )
