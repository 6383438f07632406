"""Remote write 1.0's ``WriteRequest`` in protobuf, by hand: the schema is four small
messages, so a protobuf library (and its generated code) would add more than it saves.
Sans-I/O.

::

    WriteRequest { repeated TimeSeries timeseries = 1; }
    TimeSeries   { repeated Label labels = 1; repeated Sample samples = 2; }
    Label        { string name = 1; string value = 2; }
    Sample       { double value = 1; int64 timestamp = 2; }

A request is the concatenation of its ``timeseries`` fields, so a series encoded once is
a piece of bytes that any request can carry, and a request splits into its series (to
find the one a receiver refuses) by reading tags and lengths alone (:func:`split_series`).
A series' labels are encoded once and cached by the caller (:func:`encode_labels`); its
samples are encoded for a whole batch at once with numpy (:func:`encode_samples`), each
sample a row of a fixed 12 bytes plus its timestamp's varint, written column by column.
Both fields of a sample are always written, zeros too: proto3 readers take an explicit
zero as the default it stands for.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

# Wire types (the low 3 bits of a tag): varint, 64-bit, length-delimited.
VARINT, FIXED64, LENGTH_DELIMITED = 0, 1, 2
#: Tags of the fields written: (field number << 3) | wire type.
TIMESERIES = 1 << 3 | LENGTH_DELIMITED  #: WriteRequest.timeseries
LABELS = 1 << 3 | LENGTH_DELIMITED  #: TimeSeries.labels
SAMPLES = 2 << 3 | LENGTH_DELIMITED  #: TimeSeries.samples
LABEL_NAME = 1 << 3 | LENGTH_DELIMITED
LABEL_VALUE = 2 << 3 | LENGTH_DELIMITED
SAMPLE_VALUE = 1 << 3 | FIXED64
SAMPLE_TIMESTAMP = 2 << 3 | VARINT

_UINT64 = (1 << 64) - 1
_DOUBLE = struct.Struct("<d")
#: Bytes of an encoded sample besides its timestamp's varint: the samples tag, the
#: sample's length, the value's tag and 8 bytes, the timestamp's tag.
SAMPLE_FIXED_BYTES = 12
_MAX_VARINT = 10  # an int64 below zero takes ten


class Malformed(ValueError):
    """Bytes that are not the WriteRequest this module writes."""


# -- encoding ------------------------------------------------------------------------------


def varint(number: int) -> bytes:
    """Base-128 varint of ``number``; an int64 below zero as its two's complement (ten bytes)."""
    number &= _UINT64
    out = bytearray()
    while number > 0x7F:
        out.append(number & 0x7F | 0x80)
        number >>= 7
    out.append(number)
    return bytes(out)


def field(tag: int, payload: bytes) -> bytes:
    """A length-delimited field."""
    return bytes([tag]) + varint(len(payload)) + payload


def encode_labels(labels: Iterable[tuple[str, str]]) -> bytes:
    """The ``labels`` fields of a TimeSeries, in the order given (the caller sorts them).
    Raises UnicodeEncodeError for text that is not valid UTF-8 (a lone surrogate)."""
    return b"".join(
        field(LABELS, field(LABEL_NAME, name.encode()) + field(LABEL_VALUE, value.encode())) for name, value in labels
    )


def encode_sample(value: float, timestamp: int) -> bytes:
    """One ``samples`` field of a TimeSeries (the reference for :func:`encode_samples`)."""
    sample = bytes([SAMPLE_VALUE]) + _DOUBLE.pack(value) + bytes([SAMPLE_TIMESTAMP]) + varint(timestamp)
    return field(SAMPLES, sample)


#: Thresholds of the varint lengths: a uint64 of n 7-bit groups is >= 2**(7*(n-1)).
_VARINT_STEPS = np.array([1 << (7 * k) for k in range(1, _MAX_VARINT)], dtype=np.uint64)
_SHIFTS = np.arange(0, 7 * _MAX_VARINT, 7, dtype=np.uint64)


def encode_samples(
    values: npt.NDArray[np.float64], timestamps: npt.NDArray[np.int64]
) -> tuple[bytes, npt.NDArray[np.int64]]:
    """The ``samples`` fields of every sample at once, and where each one ends in them
    (so the samples of one series are a slice). Every sample is laid out in a row of
    the widest size and the bytes past its own length masked away."""
    count = len(values)
    if count == 0:
        return b"", np.zeros(0, dtype=np.int64)
    unsigned = timestamps.astype(np.int64, copy=False).view(np.uint64)
    lengths = np.searchsorted(_VARINT_STEPS, unsigned, side="right") + 1  # varint bytes, 1..10
    widest = int(lengths.max())
    uniform = int(lengths.min()) == widest  # the usual: every timestamp of one varint length
    rows = np.empty((count, SAMPLE_FIXED_BYTES + widest), dtype=np.uint8)
    rows[:, 0] = SAMPLES
    rows[:, 1] = SAMPLE_FIXED_BYTES - 2 + lengths  # the sample's own length, < 128: one byte
    rows[:, 2] = SAMPLE_VALUE
    rows[:, 3:11] = values.astype("<f8", copy=False).view(np.uint8).reshape(count, 8)
    rows[:, 11] = SAMPLE_TIMESTAMP
    for k in range(widest):  # the k-th 7-bit group, low first, a continuation bit on all but the last
        group = (unsigned >> _SHIFTS[k]) & np.uint64(0x7F)
        if uniform:
            rows[:, SAMPLE_FIXED_BYTES + k] = (group | np.uint64(0x80)) if k < widest - 1 else group
        else:
            rows[:, SAMPLE_FIXED_BYTES + k] = group | ((k < lengths - 1).astype(np.uint64) << np.uint64(7))
    sizes = SAMPLE_FIXED_BYTES + lengths
    if uniform:
        return rows.tobytes(), np.cumsum(sizes, dtype=np.int64)
    keep = np.arange(SAMPLE_FIXED_BYTES + widest)[None, :] < sizes[:, None]  # each row's own bytes
    return rows[keep].tobytes(), np.cumsum(sizes, dtype=np.int64)


def encode_series(labels: bytes, samples: bytes) -> bytes:
    """A ``timeseries`` field of a WriteRequest: encoded labels, then encoded samples."""
    return bytes([TIMESERIES]) + varint(len(labels) + len(samples)) + labels + samples


# -- reading back what we wrote: splitting a refused request -------------------------------


def read_varint(data: bytes | memoryview, at: int) -> tuple[int, int]:
    """The varint at ``at`` and where the next field starts."""
    number = shift = 0
    while True:
        if at >= len(data):
            raise Malformed("the data ends inside a varint")
        byte = data[at]
        at += 1
        number |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return number, at
        shift += 7
        if shift >= 7 * _MAX_VARINT:
            raise Malformed("a varint longer than ten bytes")


def _fields(data: bytes | memoryview) -> Iterable[tuple[int, int, int]]:
    """(tag, start, end) of each field of a message; the payload of a length-delimited
    field is data[end - length:end], that is, the field's bytes run from start to end."""
    at = 0
    while at < len(data):
        start = at
        tag, at = read_varint(data, at)
        wire = tag & 7
        if wire == VARINT:
            _, at = read_varint(data, at)
        elif wire == FIXED64:
            at += 8
        elif wire == LENGTH_DELIMITED:
            length, at = read_varint(data, at)
            at += length
        elif wire == 5:  # fixed32
            at += 4
        else:
            raise Malformed(f"wire type {wire} at byte {start}")
        if at > len(data):
            raise Malformed(f"a field at byte {start} runs past the end")
        yield tag, start, at


def split_series(request: bytes) -> list[bytes]:
    """Each ``timeseries`` field of a WriteRequest, whole: joined, any of them make a request."""
    series = []
    view = memoryview(request)
    for tag, start, end in _fields(view):
        if tag != TIMESERIES:
            raise Malformed(f"field tag {tag} in a WriteRequest")
        series.append(request[start:end])
    return series


def _payload(data: bytes | memoryview, start: int, end: int) -> memoryview:
    _, at = read_varint(data, start)  # the tag
    _, at = read_varint(data, at)  # the length
    return memoryview(data)[at:end]


def describe_series(series: bytes) -> tuple[list[tuple[str, str]], int]:
    """The labels of one ``timeseries`` field (as :func:`split_series` gives it) and how
    many samples it carries: what a log line says of a series the receiver refused."""
    fields = list(_fields(series))
    if len(fields) != 1 or fields[0][0] != TIMESERIES:
        raise Malformed("not one timeseries field")
    body = _payload(series, fields[0][1], fields[0][2])
    labels: list[tuple[str, str]] = []
    samples = 0
    for tag, start, end in _fields(body):
        if tag == SAMPLES:
            samples += 1
        elif tag == LABELS:
            pair = {LABEL_NAME: "", LABEL_VALUE: ""}
            label = _payload(body, start, end)
            for inner, s, e in _fields(label):
                if inner in pair:
                    pair[inner] = bytes(_payload(label, s, e)).decode("utf-8", "replace")
            labels.append((pair[LABEL_NAME], pair[LABEL_VALUE]))
    return labels, samples
