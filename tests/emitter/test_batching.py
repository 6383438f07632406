"""How the sender gathers events: it lingers after a wake so a burst goes out together,
a crowded backlog, flush() and close() cut the linger short, and datagrams to a
loopback address are larger than to the network."""

from __future__ import annotations

import time

import pytest

from emitter import Emitter
from emitter._transports import DatagramTransport
from emitter._uri import parse_uri
from emitter._wire import DEFAULT_DATAGRAM_SIZE, LOOPBACK_DATAGRAM_SIZE

from ..waiting import wait_for


def test_a_burst_within_the_linger_goes_out_in_one_datagram(udp_receiver, make_emitter) -> None:
    e = make_emitter(udp_receiver.uri(), linger=0.5)
    for i in range(10):
        e.metric("burst", i)
        time.sleep(0.01)  # the sender has woken at the first; without the linger it would send each
    assert wait_for(lambda: len(udp_receiver.lines) == 10)
    assert len(udp_receiver.datagrams) == 1
    assert [event["value"] for event in udp_receiver.events] == list(range(10))


def test_without_a_linger_each_wake_sends_at_once(udp_receiver, make_emitter) -> None:
    e = make_emitter(udp_receiver.uri(), linger=0)
    for i in range(5):
        e.metric("trickle", i)
        assert wait_for(lambda i=i: len(udp_receiver.lines) == i + 1, timeout=0.5)
    assert len(udp_receiver.datagrams) == 5


@pytest.mark.parametrize("already_lingering", [False, True])
def test_a_half_full_backlog_cuts_the_linger_short(udp_receiver, make_emitter, already_lingering: bool) -> None:
    e = make_emitter(udp_receiver.uri(), linger=1.0, max_backlog=100)
    started = time.monotonic()
    if already_lingering:  # woken by a first event, the sender waits for more
        e.metric("first")
        assert wait_for(lambda: e._sender.lingering, timeout=0.5)
    for i in range(60):  # past half of max_backlog
        e.metric("crowd", i)
    count = 60 + already_lingering
    assert wait_for(lambda: len(udp_receiver.lines) == count)
    assert time.monotonic() - started < 0.9, "the sender waited out its whole linger"
    assert e.stats().dropped == 0


def test_flush_and_close_do_not_wait_for_the_linger(tcp_receiver, make_emitter) -> None:
    e = make_emitter(tcp_receiver.uri, linger=1.0)
    e.metric("flushed")
    started = time.monotonic()
    assert e.flush(timeout=5)
    assert time.monotonic() - started < 0.9
    e.metric("closed")
    started = time.monotonic()
    assert e.close(timeout=5)
    assert time.monotonic() - started < 0.9
    assert wait_for(lambda: len(tcp_receiver.lines) == 2)


def test_datagrams_to_a_loopback_collector_fill_8_kib(udp_receiver, make_emitter) -> None:
    e = make_emitter(udp_receiver.uri())
    for i in range(1000):
        e.metric("packed", i, padding="x" * 40)
    assert e.flush()
    assert wait_for(lambda: len(udp_receiver.lines) == 1000)
    sizes = [len(datagram) for datagram in udp_receiver.datagrams]
    longest_line = max(len(line) + 1 for line in udp_receiver.lines)
    assert max(sizes) <= LOOPBACK_DATAGRAM_SIZE
    # Packed full: only the last datagram of each batch may have room for another line.
    full = [size for size in sizes if size > LOOPBACK_DATAGRAM_SIZE - longest_line]
    assert len(full) >= len(sizes) - e.stats().batches
    assert len(full) >= 1


@pytest.mark.parametrize(
    ("uri", "size"),
    [
        ("udp://127.0.0.1:3333", LOOPBACK_DATAGRAM_SIZE),
        ("udp://127.3.2.1:3333", LOOPBACK_DATAGRAM_SIZE),
        ("udp://[::1]:3333", LOOPBACK_DATAGRAM_SIZE),
        ("udp://192.0.2.10:3333", DEFAULT_DATAGRAM_SIZE),  # TEST-NET-1: nothing is sent, open() only resolves
        ("udp://[2001:db8::1]:3333", DEFAULT_DATAGRAM_SIZE),
    ],
)
def test_the_datagram_size_follows_the_address_unless_set(uri: str, size: int) -> None:
    transport = DatagramTransport(parse_uri(uri), None, 1.0)
    try:
        transport.open()
    except OSError:
        pytest.skip("this address family is not configured here")
    try:
        assert transport.datagram_size == size
    finally:
        transport.close()
    chosen = DatagramTransport(parse_uri(uri), 512, 1.0)
    chosen.open()
    try:
        assert chosen.datagram_size == 512
    finally:
        chosen.close()


@pytest.mark.parametrize("linger", [-0.1, 1.5, "0.1", True])
def test_a_bad_linger_fails_at_construction(linger: object) -> None:
    with pytest.raises(ValueError, match="linger"):
        Emitter("udp://127.0.0.1:3333", app="x", linger=linger)
