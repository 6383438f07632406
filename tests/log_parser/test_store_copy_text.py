"""The PostgreSQL store's quick encoding of an object's rows as COPY text, made from the
worker's JSON by replacing delimiters: exactly COPY's text of the rows, or None (the rows
then written one by one), never anything else."""

from __future__ import annotations

import re

import orjson
from hypothesis import given
from hypothesis import strategies as st

from log_parser.store import ObjectRows
from log_parser.store._postgresql import _copy_text

#: characters JSON or COPY escape, and the delimiters of both
TRICKY = st.sampled_from(['"', "\\", "\t", "\n", "\r", ",", "[", "]", '","', '",', '],["', "\x00", "é", "\u2028"])
TEXT = st.lists(st.one_of(st.text(max_size=4), TRICKY), max_size=4).map("".join)
INTEGER = re.compile(r"-?[0-9]+")
ROW = st.tuples(TEXT, TEXT, TEXT, st.integers(min_value=-(2**63), max_value=2**63 - 1))


def copy_escape(value: str) -> str:
    """COPY's text format: backslash, tab, newline and carriage return escaped."""
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def reference(number: int, rows: list[tuple[str, str, str, int]]) -> bytes:
    return "".join(
        f"{number}\t{copy_escape(package)}\t{copy_escape(day)}\t{copy_escape(version)}\t{count}\n"
        for package, day, version, count in rows
    ).encode()


@given(st.integers(min_value=1, max_value=2**31 - 1), st.lists(ROW, max_size=20))
def test_the_rows_copy_text_is_exact_or_none(number: int, rows: list[tuple[str, str, str, int]]) -> None:
    json = ObjectRows.of(rows).json
    text = _copy_text(json, strings=3, prefix=b"%d\t" % number)
    if text is not None:
        assert text == reference(number, rows)
    # no backslash in the JSON (no quote, tab, newline or control character in a value):
    # the quick way is taken
    if rows and b"\\" not in json:
        assert text is not None


JSON_VALUE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),  # orjson refuses others
    st.floats(allow_nan=False, allow_infinity=False),
    TEXT,
    st.lists(TEXT, max_size=2),
)


@given(st.lists(st.lists(JSON_VALUE, max_size=6), min_size=1, max_size=5))
def test_rows_of_other_shapes_are_left_to_the_row_by_row_way(rows: list[list[object]]) -> None:
    """A row that is not [text, text, text, integer] gives None (written row by row,
    PostgreSQL then says what is wrong with it), or a text whose count PostgreSQL
    refuses (not an integer: a float, ``true``, ``null``...), never other rows."""
    well_formed = all(
        len(row) == 4
        and all(isinstance(value, str) for value in row[:3])
        and isinstance(row[3], int)
        and not isinstance(row[3], bool)
        for row in rows
    )
    json = orjson.dumps(rows)
    text = _copy_text(json, strings=3, prefix=b"7\t")
    if well_formed:
        assert text is None or text == reference(7, [tuple(row) for row in rows])  # type: ignore[misc]
    elif text is not None:
        lines = text.decode().split("\n")[:-1]
        assert any(len(line.split("\t")) != 5 or not INTEGER.fullmatch(line.split("\t")[4]) for line in lines)


def test_a_quote_left_over_is_no_copy_text() -> None:
    """A count given as a JSON string leaves its closing quote: row by row instead."""
    assert _copy_text(b'[["a","2026-11-20","1.0.0","5"]]', strings=3, prefix=b"7\t") is None
    assert _copy_text(b'[["a","2026-11-20","1.0.0",5]]', strings=3, prefix=b"7\t") == b"7\ta\t2026-11-20\t1.0.0\t5\n"


TOTAL = st.tuples(TEXT, TEXT, st.integers(min_value=-(2**63), max_value=2**63 - 1))


@given(st.lists(TOTAL, max_size=20))
def test_the_totals_copy_text_is_exact_or_none(totals: list[tuple[str, str, int]]) -> None:
    """The worker's sums by (package, day) go the same way, without an object's id."""
    json = orjson.dumps(totals)
    text = _copy_text(json, strings=2)
    expected = "".join(f"{copy_escape(package)}\t{copy_escape(day)}\t{n}\n" for package, day, n in totals).encode()
    if text is not None:
        assert text == expected
    if totals and b"\\" not in json:
        assert text is not None


@given(st.lists(ROW, max_size=30))
def test_an_objects_totals_are_the_sums_of_its_rows_by_package_and_day(rows: list[tuple[str, str, str, int]]) -> None:
    totals = ObjectRows.of(rows).totals
    expected: dict[tuple[str, str], int] = {}
    for package, day, _version, n in rows:
        expected[package, day] = expected.get((package, day), 0) + n
    if any(not -(2**63) <= n < 2**64 for n in expected.values()):
        assert totals is None  # past what JSON's integers carry here; the writer sums such rows itself
        return
    assert totals is not None
    assert [tuple(row) for row in orjson.loads(totals)] == sorted((p, d, n) for (p, d), n in expected.items())


def test_rows_of_another_shape_have_no_totals() -> None:
    assert ObjectRows.of([("left-pad", "2026-11-20", "1.3.0")]).totals is None  # type: ignore[list-item]
    assert ObjectRows.of([("left-pad", "2026-11-20", "1.3.0", "4")]).totals is None  # type: ignore[list-item]
