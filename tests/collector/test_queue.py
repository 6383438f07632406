"""Sink queues: bounded in events, drop the oldest or make producers wait."""

from __future__ import annotations

import trio

from collector.router import SinkQueue
from collector.router._queue import QueueClosed
from collector.wire import Batch


def batch(*values: int) -> Batch:
    return Batch([{"name": "x", "value": v, "time": 0} for v in values], [None] * len(values))


def values(b: Batch | None) -> list[int]:
    assert b is not None
    return [e["value"] for e in b.events]


def test_drop_oldest_keeps_the_newest_and_counts_the_rest() -> None:
    dropped: list[int] = []

    async def main() -> None:
        queue = SinkQueue(5, "drop_oldest", on_drop=dropped.append)
        shared = batch(1, 2, 3)
        await queue.put(shared)
        await queue.put(batch(4, 5, 6, 7))
        assert len(queue) == 5
        assert values(await queue.take(100)) == [3, 4, 5, 6, 7]
        assert values(shared) == [1, 2, 3]  # shared with other sinks: never cut in place
        await queue.put(batch(*range(10, 20)))  # larger than the queue on its own
        assert values(await queue.take(100)) == [15, 16, 17, 18, 19]

    trio.run(main)
    assert dropped == [2, 5]


def test_get_merges_whole_batches_up_to_the_limit() -> None:
    async def main() -> None:
        queue = SinkQueue(100, "drop_oldest")
        for start in range(0, 12, 3):
            await queue.put(batch(start, start + 1, start + 2))
        assert values(await queue.take(7)) == [0, 1, 2, 3, 4, 5]
        assert values(await queue.take(2)) == [6, 7, 8]  # a batch is never split
        assert len(queue) == 3

    trio.run(main)


def test_block_makes_the_producer_wait_for_room() -> None:
    async def main() -> None:
        queue = SinkQueue(4, "block")
        await queue.put(batch(1, 2, 3))
        progress = []

        async def producer() -> None:
            await queue.put(batch(4, 5))
            progress.append("put")

        async with trio.open_nursery() as nursery:
            nursery.start_soon(producer)
            await trio.sleep(0.05)
            assert progress == []  # waiting: 3 + 2 > 4
            assert values(await queue.take(10)) == [1, 2, 3]
            await trio.sleep(0.05)
            assert progress == ["put"]
        assert values(await queue.take(10)) == [4, 5]

    trio.run(main)


def test_close_lets_readers_drain_then_ends_them_and_refuses_writers() -> None:
    async def main() -> None:
        queue = SinkQueue(10, "block")
        await queue.put(batch(1))
        queue.close()
        assert values(await queue.take(10)) == [1]
        assert await queue.take(10) is None
        try:
            await queue.put(batch(2))
        except QueueClosed:
            return
        raise AssertionError("put after close must raise")

    trio.run(main)


def test_a_lingering_get_takes_what_there_is_when_a_producer_waits_for_room() -> None:
    async def main() -> None:
        queue = SinkQueue(5, "block")
        await queue.put(batch(1, 2, 3))

        async def producer() -> None:
            await queue.put(batch(4, 5, 6))  # 3 + 3 > 5: waits for the get below

        async with trio.open_nursery() as nursery:
            nursery.start_soon(producer)
            await trio.sleep(0.01)
            with trio.fail_after(1):  # not the 30 s linger: the batch can never reach 5
                assert values(await queue.take(5, linger=30)) == [1, 2, 3]
        assert values(await queue.take(5)) == [4, 5, 6]

    trio.run(main)


def test_a_get_lingers_for_a_fuller_batch_while_nobody_waits() -> None:
    async def main() -> None:
        queue = SinkQueue(10, "block")
        await queue.put(batch(1))

        async def later() -> None:
            await trio.sleep(0.05)
            await queue.put(batch(2, 3))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(later)
            assert values(await queue.take(3, linger=5)) == [1, 2, 3]

    trio.run(main)
