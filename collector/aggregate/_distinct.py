"""A HyperLogLog (Flajolet, Fusy, Gandouet and Meunier, 2007): the bounded memory of a set
series past ``max_set_members`` distinct members in an interval. Sans-I/O, standard
library only.

Strategy: a member's 64-bit hash picks one of :data:`REGISTERS` (2**14) registers with
its top :data:`PRECISION` bits; the register keeps the largest *rank* seen there, the
position of the first 1 bit in the other :data:`RANK_BITS` (50) bits, 1 to 51. The
registers are one ``bytearray`` of 16 KiB, whatever the number of members added, and
adding a member is a hash, a few integer operations and a byte compare.

The hash is the member's Python ``hash()``, mixed by splitmix64's finalizer (Steele, Lea
and Flood, "Fast splittable pseudorandom number generators", 2014). The mixing matters:
``hash()`` of an int is the int itself, so without it consecutive user ids would all
fall in register 0. ``hash()`` is what a Python ``set`` uses, so members a set holds as
one (``1``, ``1.0`` and ``True``) count once here too; ``hash()`` of a ``str`` is
randomised per process, which is harmless, since one sketch lives within one interval of
one process. Members ``hash()`` confuses beyond equality (``-1`` and ``-2``; ints equal
modulo 2**61 - 1) count once: a negligible error beside the sketch's own.

The estimate is Otmar Ertl's improved raw estimator ("New cardinality estimation
algorithms for HyperLogLog sketches", 2017, section 3.3), computed from the histogram of
the register values. Unlike the original estimator, which needs linear counting below
2.5 * 2**14 members and has a bias past the switch that HLL++ corrects with empirical
tables, it is unbiased from a handful of members to far past 2**40 without a switch or
a table: at small counts it behaves as linear counting does (nearly exact), and no
large-range correction is needed with 64-bit hashes.

**The error**: the relative standard error of the estimate is
:data:`STANDARD_ERROR`, ``1.04 / sqrt(2**14)`` = 0.81 % (smaller at small counts);
about 95 % of estimates fall within 1.6 % of the true count and all but about 6 in
100,000 within 4 standard errors (3.3 %). The count written at a flush is the estimate
rounded, and never less than the members the series held exactly when it switched
(a count it knows).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

#: Bits of the hash that choose the register.
PRECISION = 14
REGISTERS = 1 << PRECISION
#: Bits of the hash whose leading zeros make the rank.
RANK_BITS = 64 - PRECISION
#: The relative standard error of the estimate.
STANDARD_ERROR = 1.04 / math.sqrt(REGISTERS)

_MASK = (1 << 64) - 1
_RANK_MASK = (1 << RANK_BITS) - 1
_GOLDEN = 0x9E3779B97F4A7C15
_MIX_1 = 0xBF58476D1CE4E5B9
_MIX_2 = 0x94D049BB133111EB
#: Ertl's alpha for an unbounded number of registers: 1 / (2 ln 2).
_ALPHA = 1 / (2 * math.log(2))


def mixed_hash(member: Any) -> int:
    """The 64-bit hash a member is counted by: ``hash()`` through splitmix64's finalizer."""
    z = (hash(member) + _GOLDEN) & _MASK
    z = ((z ^ (z >> 30)) * _MIX_1) & _MASK
    z = ((z ^ (z >> 27)) * _MIX_2) & _MASK
    return z ^ (z >> 31)


class HyperLogLog:
    """The distinct members of one set series, estimated in a fixed 16 KiB.

    ``at_least`` is a count known exactly (the members held before the switch): the
    :meth:`count` is never below it.
    """

    __slots__ = ("at_least", "registers")

    def __init__(self, at_least: int = 0) -> None:
        self.registers = bytearray(REGISTERS)
        self.at_least = at_least

    @classmethod
    def of(cls, members: Iterable[Any], distinct: int) -> HyperLogLog:
        """A sketch of ``members`` (``distinct`` of them: a set's length)."""
        sketch = cls(distinct)
        sketch.update(members)
        return sketch

    def add(self, member: Any) -> None:
        z = (hash(member) + _GOLDEN) & _MASK
        z = ((z ^ (z >> 30)) * _MIX_1) & _MASK
        z = ((z ^ (z >> 27)) * _MIX_2) & _MASK
        z ^= z >> 31
        index = z >> RANK_BITS
        rank = RANK_BITS + 1 - (z & _RANK_MASK).bit_length()
        registers = self.registers
        if rank > registers[index]:  # noqa: PLR1730 - max() costs a call and a write per member
            registers[index] = rank

    def update(self, members: Iterable[Any]) -> None:
        """:meth:`add` each of ``members`` (the same, with the loop's names local)."""
        registers, mask, rank_mask, shift = self.registers, _MASK, _RANK_MASK, RANK_BITS
        for member in members:
            z = (hash(member) + _GOLDEN) & mask
            z = ((z ^ (z >> 30)) * _MIX_1) & mask
            z = ((z ^ (z >> 27)) * _MIX_2) & mask
            z ^= z >> 31
            index = z >> shift
            rank = shift + 1 - (z & rank_mask).bit_length()
            if rank > registers[index]:  # noqa: PLR1730 - as in add()
                registers[index] = rank

    def estimate(self) -> float:
        """Ertl's improved raw estimate of the distinct members added."""
        registers = self.registers
        histogram = [registers.count(value) for value in range(RANK_BITS + 2)]
        m = REGISTERS
        z = m * _tau(1 - histogram[RANK_BITS + 1] / m)
        for value in range(RANK_BITS, 0, -1):
            z = 0.5 * (z + histogram[value])
        z += m * _sigma(histogram[0] / m)
        return _ALPHA * m * m / z

    def count(self) -> int:
        """The estimate as a whole count, never below ``at_least``."""
        return max(round(self.estimate()), self.at_least)


def _sigma(x: float) -> float:
    """Ertl's sigma(x) = x + sum over k >= 1 of x**(2**k) * 2**(k-1), for the empty registers."""
    if x == 1:
        return math.inf
    y, z = 1.0, x
    while True:
        x *= x
        previous = z
        z += x * y
        y += y
        if z == previous:
            return z


def _tau(x: float) -> float:
    """Ertl's tau(x) = (1 - x - sum over k >= 1 of (1 - x**(2**-k))**2 * 2**-k) / 3, for
    the registers at the highest rank."""
    if x in (0, 1):
        return 0.0
    y, z = 1.0, 1 - x
    while True:
        x = math.sqrt(x)
        previous = z
        y *= 0.5
        z -= (1 - x) ** 2 * y
        if z == previous:
            return z / 3
