"""Datagram packing and backoff: the pure parts of the sender."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from emitter._wire import pack_datagrams
from emitter.backoff import Backoff

lines_strategy = st.lists(st.binary(max_size=300).map(lambda b: b.replace(b"\n", b"") + b"\n"), max_size=60)


@given(lines_strategy, st.integers(min_value=64, max_value=1500))
def test_packing_keeps_every_line_in_order_within_the_limit(lines: list[bytes], limit: int) -> None:
    data = bytearray(b"".join(lines))
    datagrams = [bytes(d) for d in pack_datagrams(data, limit)]
    assert b"".join(datagrams) == data
    assert sum(d.count(b"\n") for d in datagrams) == len(lines)
    for datagram in datagrams:
        assert datagram.endswith(b"\n")
        assert len(datagram) <= limit or datagram.count(b"\n") == 1  # only a lone long line exceeds it


def test_packing_fills_datagrams() -> None:
    data = b"".join([b"x" * 99 + b"\n"] * 100)  # 100-byte lines
    assert [len(d) // 100 for d in pack_datagrams(data, 1432)] == [14] * 7 + [2]


def test_backoff_grows_jittered_and_capped() -> None:
    low = Backoff(base=0.1, cap=1.0, rand=lambda: 0.0)
    assert [low.next_delay() for _ in range(6)] == [0.05, 0.1, 0.2, 0.4, 0.5, 0.5]
    high = Backoff(base=0.1, cap=1.0, rand=lambda: 0.999999)
    assert all(d < c for d, c in zip([high.next_delay() for _ in range(4)], [0.1, 0.2, 0.4, 0.8], strict=True))
    low.reset()
    assert low.next_delay() == 0.05
    many = Backoff(base=0.1, cap=30.0)
    for _ in range(10_000):  # never overflows, never exceeds the cap
        assert many.next_delay() <= 30.0


def test_a_limit_of_one_gives_one_line_per_datagram() -> None:
    data = b'{"a":1}\n{"b":2}\n{"c":3}\n'
    assert [bytes(d) for d in pack_datagrams(data, 1)] == [b'{"a":1}\n', b'{"b":2}\n', b'{"c":3}\n']
