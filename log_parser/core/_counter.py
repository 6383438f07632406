"""The one place that decides how the lines of a format are counted. Sans-I/O.

Strategy: every format has a line parser (:mod:`.formats`), and combined logs also have
the compiled scanner (:mod:`._scanner`, finished by :mod:`._bulk`), which counts a whole
buffer in one loop and counts it exactly as the parser would. The scanner has a price
the parser has not: loading numba and the compiled code, several hundred milliseconds
once per process. So :func:`counter_for` gives combined logs a counter that parses them
line by line until the process has read :data:`COMPILE_AFTER` bytes of them, and only
then loads the scanner, which counts everything after: a small log is counted before
numba would have loaded, a large one pays the load once. A long-running job (live, a
backfill, before its pool forks) calls :func:`warm_for` at its start instead, so that the
load never falls inside its loop. The load makes some 50,000 objects that live as long as
the process: it runs with the garbage collector paused and freezes them after, so that no
later full collection (one as the store is written, one at exit) walks them again.

Counting a buffer through the scanner comes in two steps, :meth:`SplitCounter.scan`,
compiled code that holds no lock and keeps no state, and :meth:`SplitCounter.finish`, which
adds to the tally; :meth:`FormatCounter.split_for` gives them to a shell with cores to
spare (``numbat-logs count``), which scans the next buffers in other threads while it
finishes the earlier ones, in order: what is counted, and the rejects file, are those of
one thread.

Callers hand over bytes: whole lines ending at LF (the last may lack it) with
:meth:`FormatCounter.count`, or messages that are each one line whatever they hold
(octet-counted syslog) with :meth:`FormatCounter.count_messages`. Lines are UTF-8, an
undecodable byte read as U+FFFD; a CR before the LF is left to the parser, which drops it.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Mapping, Sequence
from typing import IO, TYPE_CHECKING, Any, Protocol

from ._counting import Tally, tally_lines
from ._memory import CounterMemory
from .formats import LineParser, new_parser

if TYPE_CHECKING:
    from ._bulk import BulkCounter

#: Bytes of combined lines a process parses line by line before it loads the scanner:
#: well below what the parser reads in the time the load takes (see bench/logs.py).
COMPILE_AFTER = 1 << 20

log = logging.getLogger("log_parser")


class SplitCounter(Protocol):
    """Counting one buffer in two steps: ``scan`` (compiled, any thread, no state kept)
    then ``finish`` (adds to the tally; buffers finished in the log's order); ``flush``
    once the last is finished, which adds the downloads held."""

    def count(self, buffer: bytes, tally: Tally) -> None: ...

    def scan(self, buffer: bytes) -> Any: ...

    def finish(self, buffer: bytes, scan: Any, tally: Tally) -> None: ...

    def flush(self) -> None: ...


class FormatCounter:
    """Counts lines of one format into a tally, line by line through its parser. A line
    the parser refuses is counted in ``tally.rejected`` by reason (and written to
    ``rejects`` with it), never raised."""

    def __init__(self, parser: LineParser, rejects: IO[str] | None = None) -> None:
        self.parser = parser
        self.rejects = rejects

    @property
    def format(self) -> str:
        return self.parser.name

    def count(self, buffer: bytes, tally: Tally) -> None:
        """Every line of ``buffer``: lines end at LF, the last one may lack it."""
        tally_lines(buffer.decode("utf-8", "replace").split("\n"), self.parser, tally, self.rejects)

    def split_for(self, buffer: bytes) -> SplitCounter | None:
        """The two steps counting ``buffer`` may be split into, when it has them (the
        compiled scanner's); None when it is to be counted with :meth:`count`."""
        return None

    def count_messages(self, messages: Sequence[bytes], tally: Tally) -> None:
        """Each message as one line, even one that holds an LF of its own."""
        if any(b"\n" in message for message in messages):
            tally_lines([message.decode("utf-8", "replace") for message in messages], self.parser, tally, self.rejects)
        elif messages:
            self.count(b"\n".join(messages), tally)


class _CompiledCombinedCounter(FormatCounter):
    """Combined (and common) logs: through the compiled scanner once it is loaded, by the
    parser until then."""

    def __init__(self, parser: LineParser, rejects: IO[str] | None = None, memory: CounterMemory | None = None) -> None:
        super().__init__(parser, rejects)
        self.memory = memory
        self._bulk: BulkCounter | None = None

    def count(self, buffer: bytes, tally: Tally) -> None:
        bulk = self.split_for(buffer)
        if bulk is None:
            super().count(buffer, tally)
        else:
            bulk.count(buffer, tally)

    def split_for(self, buffer: bytes) -> SplitCounter | None:
        if self._bulk is None and _compiled.wanted(len(buffer)):
            self._bulk = _compiled.load()(rejects=self.rejects, memory=self.memory)
        return self._bulk


def counter_for(
    format_name: str,
    json_fields: Mapping[str, str] | None = None,
    rejects: IO[str] | None = None,
    memory: CounterMemory | None = None,
) -> FormatCounter:
    """The counter of the format ``format_name`` (a name in ``PARSERS``, not ``auto``);
    ``json_fields`` maps our fields to a JSON log's keys (see :func:`.formats.new_parser`);
    ``memory``, what the counters this thread made before it hand on (see CounterMemory)."""
    parser = new_parser(format_name, json_fields)
    if format_name == "combined":
        return _CompiledCombinedCounter(parser, rejects, memory)
    return FormatCounter(parser, rejects)


def warm_for(format_name: str) -> None:
    """Load now what counting ``format_name`` (``auto``: any format) may load later."""
    if format_name in ("combined", "auto"):
        _compiled.load()


class _CompiledScanner:
    """The process's one loading of the scanner, and the bytes parsed before it."""

    def __init__(self) -> None:
        self.bulk_counter: type[BulkCounter] | None = None
        self.parsed_bytes = 0

    def wanted(self, size: int) -> bool:
        """Whether a buffer of ``size`` bytes goes to the scanner: yes once it is loaded,
        or once the bytes parsed without it would reach COMPILE_AFTER."""
        if self.bulk_counter is None and self.parsed_bytes + size < COMPILE_AFTER:
            self.parsed_bytes += size
            return False
        return True

    def load(self) -> type[BulkCounter]:
        """The bulk counter, importing the scanner (and numba) the first time."""
        if self.bulk_counter is None:
            collecting = gc.isenabled()
            gc.disable()  # the import makes some 50,000 objects and next to no garbage
            try:
                from . import _bulk, _scanner  # noqa: PLC0415 - numba loads only when wanted: see the module's strategy
            finally:
                # numba's objects live as long as the process: frozen, out of every later
                # collection (the full ones, one as the store is written and one at exit,
                # walked them all: 0.1-0.2 s of a command that counts a million lines in 1 s)
                gc.freeze()
                if collecting:
                    gc.enable()
            for warning in _scanner.COMPILED_CACHE.warnings:
                log.warning("%s (%s)", warning, _scanner.COMPILED_CACHE.path)
            self.bulk_counter = _bulk.BulkCounter
        return self.bulk_counter


_compiled = _CompiledScanner()
