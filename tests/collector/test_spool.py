"""The disk spool: order, restarts, torn and corrupt data, the size cap."""

from __future__ import annotations

import os
import random
from collections import deque

from hypothesis import given, settings
from hypothesis import strategies as st

from collector.sinks.remote._spool import MAGIC, Damage, Record, Spool, encode_record, scan


def drain(spool: Spool) -> list[bytes]:
    out = []
    while (record := spool.peek()) is not None:
        out.append(record.payload)
        spool.commit(record)
    return out


def test_records_come_back_in_order_across_segments_and_restarts(tmp_path) -> None:
    spool = Spool(tmp_path, segment_bytes=200, fsync="never")
    spool.open()
    for i in range(20):
        spool.append(f"batch {i}".encode() * 5, count=i + 1)
    assert spool.events == sum(range(1, 21))
    assert len(list(tmp_path.glob("*.spool"))) > 3
    first_five = []
    for _ in range(5):
        record = spool.peek()
        first_five.append(record.payload)
        spool.commit(record)
    spool.close()

    reopened = Spool(tmp_path, segment_bytes=200, fsync="never")
    reopened.open()
    assert reopened.events == sum(range(6, 21))
    assert first_five + drain(reopened) == [f"batch {i}".encode() * 5 for i in range(20)]
    assert reopened.events == 0
    reopened.append(b"after", 1)  # appending after a full replay works, and replays
    assert drain(reopened) == [b"after"]
    assert reopened.counters.replayed_events == sum(range(6, 21)) + 1


def test_appends_during_replay_are_replayed_after_what_was_there(tmp_path) -> None:
    spool = Spool(tmp_path, segment_bytes=10_000, fsync="never")
    spool.open()
    spool.append(b"a", 1)
    record = spool.peek()
    spool.append(b"b", 1)  # while a is being sent
    spool.commit(record)
    spool.append(b"c", 1)
    assert drain(spool) == [b"b", b"c"]


def test_a_torn_tail_is_cut_and_counted_and_the_rest_replays(tmp_path) -> None:
    spool = Spool(tmp_path, fsync="always")
    spool.open()
    for i in range(5):
        spool.append(b"x%d" % i * 50, 10)
    spool.close()
    segment = next(tmp_path.glob("*.spool"))
    size = segment.stat().st_size
    with open(segment, "r+b") as file:  # a crash in the middle of the last append
        file.truncate(size - 30)
    reopened = Spool(tmp_path, fsync="always")
    reopened.open()
    assert reopened.counters.damaged_stretches == 1
    assert reopened.events == 40
    reopened.append(b"new", 1)
    assert drain(reopened) == [b"x%d" % i * 50 for i in range(4)] + [b"new"]


def test_a_flipped_bit_skips_one_record_only(tmp_path) -> None:
    spool = Spool(tmp_path, fsync="always")
    spool.open()
    for i in range(5):
        spool.append(b"record %d " % i * 20, 3)
    spool.close()
    segment = next(tmp_path.glob("*.spool"))
    data = bytearray(segment.read_bytes())
    second = data.find(MAGIC, 1)
    data[second + 40] ^= 0x10  # inside the second record's payload
    segment.write_bytes(bytes(data))
    reopened = Spool(tmp_path, fsync="always")
    reopened.open()
    replayed = drain(reopened)
    assert replayed == [b"record %d " % i * 20 for i in (0, 2, 3, 4)]
    assert reopened.counters.damaged_stretches >= 1


def test_the_cap_drops_the_oldest_segments_and_counts_their_events(tmp_path) -> None:
    spool = Spool(tmp_path, max_bytes=2_000, segment_bytes=500, fsync="never")
    spool.open()
    for i in range(40):
        spool.append(b"%03d" % i * 30, 7)
    assert spool.size_bytes <= 2_000
    replayed = drain(spool)
    assert replayed[-1] == b"039" * 30
    assert len(replayed) * 7 + spool.counters.dropped_events == 40 * 7
    assert spool.counters.dropped_events > 0
    assert [int(p[:3]) for p in replayed] == sorted(int(p[:3]) for p in replayed)


def test_a_lost_cursor_replays_everything_again(tmp_path) -> None:
    spool = Spool(tmp_path, fsync="never")
    spool.open()
    spool.append(b"a", 1)
    spool.append(b"b", 1)
    record = spool.peek()
    spool.commit(record)
    spool.close()
    os.unlink(tmp_path / "cursor")
    reopened = Spool(tmp_path, fsync="never")
    reopened.open()
    assert drain(reopened) == [b"a", b"b"]  # at least once: the stores take it twice as once


def test_files_it_did_not_name_are_left_alone_and_named(tmp_path) -> None:
    """A segment renamed by hand (``1.spool``) or another program's file is neither read
    (numbatd once exited on it) nor removed: the spool starts, says which, and replays its own."""
    spool = Spool(tmp_path, fsync="never")
    spool.open()
    spool.append(b"ours", 1)
    spool.close()
    foreign = {"1.spool": encode_record(b"renamed", 1), "notes.spool": b"hello", "0x2.spool": b""}
    for name, data in foreign.items():
        (tmp_path / name).write_bytes(data)
    reopened = Spool(tmp_path, fsync="never")
    reopened.open()
    assert reopened.foreign_files == sorted(foreign)
    assert drain(reopened) == [b"ours"]
    reopened.close()
    assert all((tmp_path / name).read_bytes() == data for name, data in foreign.items())


@settings(max_examples=50, deadline=None)
@given(st.lists(st.sampled_from(["append", "replay", "reopen"]), max_size=60), st.randoms())
def test_any_sequence_of_operations_replays_exactly_what_was_appended(tmp_path_factory, ops, rnd) -> None:
    directory = tmp_path_factory.mktemp("spool")
    spool = Spool(directory, segment_bytes=300, fsync="never")
    spool.open()
    model: deque[bytes] = deque()
    replayed: list[bytes] = []
    appended: list[bytes] = []
    for n, op in enumerate(ops):
        if op == "append":
            payload = b"p%d-" % n + bytes(rnd.randrange(256) for _ in range(rnd.randrange(60)))
            spool.append(payload, 1)
            model.append(payload)
            appended.append(payload)
        elif op == "replay" and (record := spool.peek()) is not None:
            assert record.payload == model.popleft()
            replayed.append(record.payload)
            spool.commit(record)
        elif op == "reopen":
            spool.close()
            spool = Spool(directory, segment_bytes=300, fsync="never")
            spool.open()
        assert spool.events == len(model)
    assert replayed + drain(spool) == appended


@given(st.lists(st.binary(max_size=40), max_size=8), st.lists(st.binary(max_size=30), min_size=9, max_size=9))
def test_scan_finds_every_record_between_arbitrary_garbage(payloads, garbage) -> None:
    data = b"".join(g + encode_record(p, len(p)) for g, p in zip(garbage, payloads, strict=False)) + garbage[-1]
    found = iter([item.payload for item in scan(data) if isinstance(item, Record)])
    # every record, in order (garbage could only add one by forging a header and its CRC)
    assert all(any(p == f for f in found) for p in payloads)


@given(st.binary(max_size=300))
def test_scan_never_raises_on_arbitrary_bytes(data) -> None:
    for item in scan(data):
        assert isinstance(item, Record | Damage)
        assert item.end > item.offset


def test_random_bit_flips_never_break_reading(tmp_path) -> None:
    rnd = random.Random(7)
    spool = Spool(tmp_path, fsync="never")
    spool.open()
    for i in range(30):
        spool.append(b"payload %d " % i * 10, 1)
    spool.close()
    segment = next(tmp_path.glob("*.spool"))
    data = bytearray(segment.read_bytes())
    for _ in range(10):
        data[rnd.randrange(len(data))] ^= 1 << rnd.randrange(8)
    segment.write_bytes(bytes(data))
    reopened = Spool(tmp_path, fsync="never")
    reopened.open()
    replayed = drain(reopened)
    assert 15 <= len(replayed) <= 30
    assert all(p in [b"payload %d " % i * 10 for i in range(30)] for p in replayed)
