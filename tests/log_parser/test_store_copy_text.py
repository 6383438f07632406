"""The PostgreSQL store's quick encoding of an object's rows as COPY text, made from the
worker's JSON by replacing delimiters: exactly COPY's text of the rows, or None (the rows
then written one by one), never anything else; and the worker's rows themselves: a row
per (day, package) with its total and its versions' counts."""

from __future__ import annotations

import re

import orjson
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from log_parser.store import ObjectRows
from log_parser.store._postgresql import _copy_text

#: characters JSON or COPY escape, and the delimiters of both
TRICKY = st.sampled_from(
    ['"', "\\", "\t", "\n", "\r", ",", "[", "]", "{", "}", ":", '","', '",', ",{", '}],["', "\x00", "é", "\u2028"]
)
TEXT = st.lists(st.one_of(st.text(max_size=4), TRICKY), max_size=4).map("".join)
INTEGER = re.compile(r"-?[0-9]+")
COUNT = st.integers(min_value=-(2**40), max_value=2**40)
ROW = st.tuples(TEXT, TEXT, TEXT, COUNT)


def looks_like_a_delimiter(rows: list[tuple[str, str, str, int]]) -> bool:
    """A name the quick way cannot tell from its delimiters: one holding ``,{``, or a
    version starting with a comma (its key then reads ``{",`` in the JSON)."""
    return any(",{" in "".join(row[:3]) or row[2].startswith(",") for row in rows)


def copy_escape(value: str) -> str:
    """COPY's text format: backslash, tab, newline and carriage return escaped."""
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def reference(number: int, json: bytes) -> bytes:
    """COPY's text of the rows, field by field."""
    return "".join(
        f"{number}\t{copy_escape(day)}\t{copy_escape(package)}\t{total}\t{copy_escape(orjson.dumps(versions).decode())}\n"
        for day, package, total, versions in orjson.loads(json)
    ).encode()


@given(st.integers(min_value=1, max_value=2**31 - 1), st.lists(ROW, max_size=20))
def test_the_rows_copy_text_is_exact_or_none(number: int, rows: list[tuple[str, str, str, int]]) -> None:
    json = ObjectRows.of(rows).json
    text = _copy_text(json, prefix=b"%d\t" % number)
    if text is not None:
        assert text == reference(number, json)
    # no backslash in the JSON (no quote, tab, newline or control character in a name)
    # and nothing like a delimiter in one: the quick way is taken
    if orjson.loads(json) and b"\\" not in json and not looks_like_a_delimiter(rows):
        assert text is not None


JSON_VALUE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),  # orjson refuses others
    st.floats(allow_nan=False, allow_infinity=False),
    TEXT,
    st.lists(TEXT, max_size=2),
    st.dictionaries(TEXT, st.one_of(st.integers(min_value=0, max_value=9), TEXT), max_size=2),
)


def is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def well_formed(row: list[object]) -> bool:
    return (
        len(row) == 4
        and isinstance(row[0], str)
        and isinstance(row[1], str)
        and is_count(row[2])
        and isinstance(row[3], dict)
        and all(is_count(n) for n in row[3].values())
    )


def versions_field(field: str) -> bool:
    try:
        versions = orjson.loads(field)
    except orjson.JSONDecodeError:
        return False
    return isinstance(versions, dict) and all(is_count(n) for n in versions.values())


@given(st.lists(st.lists(JSON_VALUE, max_size=6), min_size=1, max_size=5))
def test_rows_of_other_shapes_are_left_to_the_row_by_row_way(rows: list[list[object]]) -> None:
    """A row that is not [text, text, integer, {text: integer}] gives None (written row
    by row, PostgreSQL then says what is wrong with it), or a text with a line that is no
    row (fields other than five, a total that is no integer, which PostgreSQL refuses, or
    versions that are no object of counts), never other rows."""
    json = orjson.dumps(rows)
    text = _copy_text(json, prefix=b"7\t")
    if all(well_formed(row) for row in rows):
        assert text is None or text == reference(7, json)
    elif text is not None:
        lines = [line.split("\t") for line in text.decode().split("\n")[:-1]]
        assert any(
            len(fields) != 5 or not INTEGER.fullmatch(fields[3]) or not versions_field(fields[4]) for fields in lines
        )


def test_a_delimiter_in_a_name_is_no_copy_text() -> None:
    assert _copy_text(b'[["2026-11-20","a",5,{"1,{0":5}]]', prefix=b"7\t") is None
    assert _copy_text(b'[["2026-11-20","a,{",5,{"1":5}]]', prefix=b"7\t") is None
    assert _copy_text(b'[["2026-11-20","a",5,{"1.0.0":5}]]', prefix=b"7\t") == b'7\t2026-11-20\ta\t5\t{"1.0.0":5}\n'


@given(st.lists(ROW, max_size=30))
def test_an_objects_rows_are_its_versions_by_day_and_package_with_their_totals(
    rows: list[tuple[str, str, str, int]],
) -> None:
    expected: dict[tuple[str, str], dict[str, int]] = {}
    for package, day, version, n in rows:
        if n:
            versions = expected.setdefault((day, package), {})
            versions[version] = versions.get(version, 0) + n
    made = orjson.loads(ObjectRows.of(rows).json)
    assert [(day, package) for day, package, _, _ in made] == sorted(key for key, v in expected.items() if v)
    for day, package, total, versions in made:
        assert versions == expected[day, package]
        assert total == sum(versions.values())


@pytest.mark.parametrize(
    "row",
    [
        ("left-pad", "2026-11-20", "1.3.0"),
        ("left-pad", "2026-11-20", "1.3.0", "4"),
        ("left-pad", "2026-11-20", "1.3.0", True),
        ("left-pad", None, "1.3.0", 4),
        ("left-pad", "2026-11-20", "1.3.0", 2**63),
    ],
)
def test_a_row_of_another_shape_is_refused_by_name(row: tuple[object, ...]) -> None:
    with pytest.raises(ValueError, match="not \\(package, day, version, count\\)"):
        ObjectRows.of([row])  # type: ignore[list-item]


@given(st.lists(st.integers(min_value=2**61, max_value=2**63 - 1), min_size=4, max_size=6))
def test_a_total_past_64_bits_is_refused(counts: list[int]) -> None:
    assume(sum(counts) > 2**63 - 1)
    with pytest.raises(ValueError, match="past what the store's integers hold"):
        ObjectRows.of([("lodash", "2026-11-20", f"1.0.{i}", n) for i, n in enumerate(counts)])
