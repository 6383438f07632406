"""numba's helpers for the hash tables both compiled modules keep: open addressing with
linear probing, in ``int64`` numpy arrays of ``[key, value]`` rows, a value of 0 marking a
free slot (so values are ids + 1, or counts), sizes powers of two, grown to twice the size
before a key would fill one past half. Keys are 64-bit hashes; what a key stands for is
compared by its caller, which alone knows where the bytes it hashed are.

Import this module only once numba's cache folder is chosen (:func:`jit.use_compiled_cache`).

numba's cache keys a compiled function by its own source file, so a change here is not
seen by the machine code cached for the functions that call these: ``run-tests`` clears
the cached code older than this file before it compiles. An installed package is not
concerned: an upgrade rewrites every file, and the caches with them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

import numpy as np
from numba import njit

#: A table row's columns.
KEY, VALUE = 0, 1
#: 2**64 / phi as a signed int64: Fibonacci hashing spreads keys over the slots.
FIBONACCI = -0x61C8864680B583EB
#: FNV-1a's offset basis and prime.
FNV_OFFSET = np.uint64(14695981039346656037)
FNV_PRIME = np.uint64(1099511628211)

Function = TypeVar("Function", bound=Callable[..., Any])


def compiled(function: Function) -> Function:
    """Compiled to machine code by numba at its first call, the code cached on disk:
    the first process compiles for seconds, later ones load it at once."""
    return cast(Function, njit(cache=True, nogil=True)(function))


@compiled
def first_slot(key: int, mask: int) -> int:
    """Where ``key``'s probe starts in a table of ``mask + 1`` slots. Fibonacci hashing's
    well-mixed bits are the product's high ones: they are folded onto the low ones the mask
    keeps, else keys that differ only above the mask's bits (``path << 32 | minute``) would
    all start at one slot."""
    mixed = key * FIBONACCI
    return (mixed ^ (mixed >> 32)) & mask


@compiled
def fnv1a(data: Any, start: int, end: int) -> int:
    """FNV-1a of ``data[start:end]``, as a signed 64-bit key."""
    value = FNV_OFFSET
    for index in range(start, end):
        value = (value ^ np.uint64(data[index])) * FNV_PRIME
    return int(np.int64(value))


@compiled
def insert(table: Any, key: int, value: int) -> None:
    """``key`` with ``value`` (above 0) in the first free slot of its probe; the caller
    knows the key is not there yet."""
    mask = table.shape[0] - 1
    slot = first_slot(key, mask)
    while table[slot, VALUE] > 0:
        slot = (slot + 1) & mask
    table[slot, KEY], table[slot, VALUE] = key, value


@compiled
def with_room(table: Any, used: int) -> Any:
    """``table``, or a copy twice its size when one more key would fill it past half."""
    if 2 * (used + 1) <= table.shape[0]:
        return table
    grown = np.zeros((table.shape[0] * 2, 2), dtype=np.int64)
    for row in range(table.shape[0]):
        if table[row, VALUE] > 0:
            insert(grown, table[row, KEY], table[row, VALUE])
    return grown


@compiled
def with_row(rows: Any, used: int) -> Any:
    """``rows``, or a copy twice as long when all ``used``."""
    if used < rows.shape[0]:
        return rows
    longer = np.empty((rows.shape[0] * 2, rows.shape[1]), dtype=rows.dtype)
    longer[:used] = rows
    return longer
