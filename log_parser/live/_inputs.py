"""Live mode's inputs from files: a log followed as it is written, or standard input.

Strategy: both block (a file read, a pipe read), so both run their reads in trio's
worker threads and hand each batch of complete lines to the live job in the event loop.
The file is polled: every ``poll_interval`` seconds when it had nothing new, at once
again when it had.
"""

from __future__ import annotations

import sys
from pathlib import Path

import trio

from ._follow import FileFollower
from ._job import LineHandler, LineInput


def follow_file(path: Path, poll_interval: float, from_start: bool) -> LineInput:
    """Follow ``path`` as ``tail -F`` does, from its end (or its start)."""

    async def follow(handler: LineHandler) -> None:
        follower = FileFollower(path, from_start=from_start)
        try:
            while True:
                lines = await trio.to_thread.run_sync(follower.poll)
                if lines:
                    await handler.handle_lines(lines)
                else:
                    await trio.sleep(poll_interval)
        finally:
            follower.close()

    return follow


def read_stdin() -> LineInput:
    """Standard input, a line at a time, until it closes."""

    async def read(handler: LineHandler) -> None:
        stream = trio.wrap_file(sys.stdin.buffer)
        while line := await stream.readline():
            await handler.handle_lines([line.rstrip(b"\n")])

    return read
