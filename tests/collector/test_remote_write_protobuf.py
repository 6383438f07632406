"""The remote write sink's hand-written protobuf and its snappy framing, against a
decoder written apart from it (remote_write_decoder.py) and cramjam's decompressor."""

from __future__ import annotations

import contextlib
import math
import struct

import cramjam
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collector.sinks.remote_write._protobuf import (
    Malformed,
    describe_series,
    encode_labels,
    encode_sample,
    encode_samples,
    encode_series,
    read_varint,
    split_series,
    varint,
)
from collector.sinks.remote_write._sink import compress, decompress

from .remote_write_decoder import _int64, _varint, decode_body, decode_write_request

int64s = st.integers(min_value=-(2**63), max_value=2**63 - 1)
doubles = st.floats(allow_nan=True, allow_infinity=True)
texts = st.text(st.characters(exclude_categories=("Cs",)), max_size=30)  # UTF-8 encodable
labels = st.lists(st.tuples(texts, texts), max_size=6)
samples = st.lists(st.tuples(doubles, int64s), max_size=40)
requests = st.lists(st.tuples(labels, samples), max_size=8)


def bits(value: float) -> bytes:
    """A double's exact bits: NaN equals NaN, and -0.0 is not 0.0."""
    return struct.pack("<d", value)


def encode_request(series: list[tuple[list[tuple[str, str]], list[tuple[float, int]]]]) -> bytes:
    parts = []
    for pairs, points in series:
        values = np.array([v for v, _ in points], dtype=np.float64)
        stamps = np.array([t for _, t in points], dtype=np.int64)
        data, _ = encode_samples(values, stamps)
        parts.append(encode_series(encode_labels(pairs), data))
    return b"".join(parts)


def same(decoded, expected) -> bool:
    return [(pairs, [(bits(v), t) for v, t in points]) for pairs, points in decoded] == [
        (pairs, [(bits(v), t) for v, t in points]) for pairs, points in expected
    ]


@given(int64s)
def test_varints_read_back_as_the_int64_written(number: int) -> None:
    encoded = varint(number)
    decoded, end = _varint(encoded, 0)
    assert end == len(encoded)
    assert _int64(decoded) == number
    assert read_varint(encoded, 0) == (number & (2**64 - 1), len(encoded))
    assert len(encoded) == (10 if number < 0 else max(1, math.ceil(number.bit_length() / 7)))


@given(requests)
@settings(max_examples=300, deadline=None)
def test_a_write_request_decodes_to_its_series_labels_and_samples(series) -> None:
    assert same(decode_write_request(encode_request(series)), series)


@given(samples)
@settings(max_examples=300, deadline=None)
def test_samples_encoded_at_once_are_the_samples_encoded_one_by_one(points) -> None:
    values = np.array([v for v, _ in points], dtype=np.float64)
    stamps = np.array([t for _, t in points], dtype=np.int64)
    data, ends = encode_samples(values, stamps)
    one_by_one = [encode_sample(v, t) for v, t in points]
    assert data == b"".join(one_by_one)
    assert ends.tolist() == np.cumsum([len(s) for s in one_by_one]).tolist()


def test_timestamps_of_every_varint_length_in_one_batch() -> None:
    stamps = [0, 1, 127, 128, 2**14, 2**35, 1_700_000_000_000, 2**62, 2**63 - 1, -1, -(2**63)]
    series = [([("__name__", "x")], [(float(i), t) for i, t in enumerate(stamps)])]
    assert same(decode_write_request(encode_request(series)), series)


@given(requests)
@settings(max_examples=200, deadline=None)
def test_a_request_splits_into_its_series_and_each_describes_itself(series) -> None:
    request = encode_request(series)
    pieces = split_series(request)
    assert b"".join(pieces) == request
    assert len(pieces) == len(series)
    for piece, (pairs, points) in zip(pieces, series, strict=True):
        assert describe_series(piece) == (pairs, len(points))
        assert same(decode_write_request(piece), [(pairs, points)])


@given(requests, st.data())
@settings(max_examples=200, deadline=None)
def test_a_cut_request_is_malformed_never_a_crash(series, data) -> None:
    request = encode_request(series)
    if not request:
        return
    cut = data.draw(st.integers(min_value=1, max_value=len(request) - 1)) if len(request) > 1 else 0
    try:
        pieces = split_series(request[:cut])
    except Malformed:
        return
    # a cut that fell between two series leaves whole ones
    assert b"".join(pieces) == request[:cut]
    for piece in pieces:
        describe_series(piece)


@given(st.binary(max_size=200))
@settings(max_examples=300)
def test_any_bytes_split_or_are_malformed(data: bytes) -> None:
    try:
        pieces = split_series(data)
    except Malformed:
        return
    assert b"".join(pieces) == data
    for piece in pieces:
        with contextlib.suppress(Malformed):
            describe_series(piece)


@given(requests)
@settings(max_examples=200, deadline=None)
def test_snappy_block_format_round_trips_through_the_librarys_decompressor(series) -> None:
    request = encode_request(series)
    body = compress(request)
    assert bytes(cramjam.snappy.decompress_raw(body)) == request
    assert decompress(body) == request
    # the block format opens with the uncompressed length; the framed one with a stream header
    assert _varint(body, 0)[0] == len(request)
    assert not body.startswith(b"\xff\x06\x00\x00sNaPpY")
    assert same(decode_body(body), series)


def test_a_label_that_is_not_utf8_is_refused_by_the_encoder() -> None:
    with pytest.raises(UnicodeEncodeError):
        encode_labels([("__name__", "x"), ("bad", "\ud800")])
