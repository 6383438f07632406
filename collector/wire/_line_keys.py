"""A numbat JSON line's key, read in place: the line less its value and time. Compiled by
numba, sans-I/O.

Two lines that differ only in their value and time tokens decode to events of one
series, so the bytes around those two tokens name the series: the transcoders of the
InfluxDB and remote write sinks look each line's series up by them, and learn a series
once. A key is never copied out of its line to be looked up: it is hashed and compared
where it lies, in the three stretches around the two tokens (``around``: where the value
token starts and ends, where the time token starts and ends, in either order). Learnt
keys sit end to end in one byte array, ``key_spans`` holding each one's [start, end] by
id, and a hash table of [hash, id + 1] rows (``jit.tables``) finds them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from jit.tables import FNV_OFFSET, FNV_PRIME, KEY, VALUE, compiled, first_slot

#: What :func:`find_key` says of a key not learnt yet.
NOT_FOUND = -1


@compiled
def key_stretches(start: int, end: int, around: tuple[int, int, int, int]) -> tuple[int, int, int, int, int, int]:
    """The three stretches of the line [start, end) around its value and time tokens."""
    first, first_end, second, second_end = around
    if second < first:
        first, first_end, second, second_end = second, second_end, first, first_end
    return start, first, first_end, second, second_end, end


@compiled
def _mix(data: Any, start: int, end: int, lanes: tuple[Any, Any, Any, Any]) -> tuple[Any, Any, Any, Any]:
    """FNV-1a in four lanes, a byte to each in turn, so that the multiplications do not
    wait for each other; the lanes carry across the stretches of one key."""
    first, second, third, fourth = lanes
    at = start
    while at + 4 <= end:
        first = (first ^ np.uint64(data[at])) * FNV_PRIME
        second = (second ^ np.uint64(data[at + 1])) * FNV_PRIME
        third = (third ^ np.uint64(data[at + 2])) * FNV_PRIME
        fourth = (fourth ^ np.uint64(data[at + 3])) * FNV_PRIME
        at += 4
    while at < end:
        first = (first ^ np.uint64(data[at])) * FNV_PRIME
        at += 1
    return first, second, third, fourth


@compiled
def key_hash(data: Any, start: int, end: int, around: tuple[int, int, int, int]) -> int:
    """The hash of the line's key: one key is always cut into the same three stretches,
    so it hashes alike whatever the value and time beside it."""
    a, b, c, d, e, f = key_stretches(start, end, around)
    lanes = (FNV_OFFSET, FNV_OFFSET, FNV_OFFSET, FNV_OFFSET)
    first, second, third, fourth = _mix(data, e, f, _mix(data, c, d, _mix(data, a, b, lanes)))
    mixed = (first ^ (second * FNV_PRIME) ^ (third * FNV_PRIME * FNV_PRIME) ^ (fourth >> np.uint64(7))) * FNV_PRIME
    return int(np.int64(mixed))


@compiled
def same_key(  # noqa: PLR0917 (numba compiles no keyword-only arguments)
    data: Any, start: int, end: int, around: tuple[int, int, int, int], keys: Any, key_start: int, key_end: int
) -> bool:
    """Whether the line's key is the learnt key ``keys[key_start:key_end]``."""
    a, b, c, d, e, f = key_stretches(start, end, around)
    if (b - a) + (d - c) + (f - e) != key_end - key_start:
        return False
    at = key_start
    for first, last in ((a, b), (c, d), (e, f)):
        for index in range(first, last):
            if data[index] != keys[at]:
                return False
            at += 1
    return True


@compiled
def find_key(  # noqa: PLR0917
    data: Any,
    start: int,
    end: int,
    around: tuple[int, int, int, int],
    hashed: int,
    slots: Any,
    keys: Any,
    key_spans: Any,
) -> int:
    """The id of the learnt key the line holds (its hash ``hashed``), or NOT_FOUND."""
    mask = slots.shape[0] - 1
    slot = first_slot(hashed, mask)
    while slots[slot, VALUE] > 0:
        index = slots[slot, VALUE] - 1
        if slots[slot, KEY] == hashed and same_key(
            data, start, end, around, keys, key_spans[index, 0], key_spans[index, 1]
        ):
            return int(index)
        slot = (slot + 1) & mask
    return NOT_FOUND


@compiled
def look_up(  # noqa: PLR0917
    data: Any, start: int, end: int, around: tuple[int, int, int, int], slots: Any, keys: Any, key_spans: Any
) -> tuple[int, int]:
    """The id of the learnt key the line holds (or NOT_FOUND), and its hash: what a
    transcoder keeps to learn the key when it is not found."""
    hashed = key_hash(data, start, end, around)
    return find_key(data, start, end, around, hashed, slots, keys, key_spans), hashed


def key_bytes(data: bytes, start: int, end: int, around: tuple[int, int, int, int]) -> bytes:
    """The key of the line [start, end) of ``data``, copied out: to be learnt."""
    first, first_end, second, second_end = around
    if second < first:
        first, first_end, second, second_end = second, second_end, first, first_end
    return data[start:first] + data[first_end:second] + data[second_end:end]
