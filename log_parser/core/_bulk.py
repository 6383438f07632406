"""Counting a whole buffer of a combined log at once. Sans-I/O.

Strategy: the compiled :mod:`._scanner` reads the buffer; what it hands back is finished
here: each distinct download path is judged by the tarball rule once (and remembered
from one buffer to the next, and from one counter to the next when the caller hands them
a :class:`CounterMemory`: the popular tarballs recur in every buffer and every log), and
the lines it left alone go through :class:`~log_parser.core.formats.CombinedParser` one
by one, which counts them or refuses them with its reason. So a buffer counts exactly as
the parser would count it line by line, whatever it holds. Loaded by :mod:`._counter`
only, which decides when the compiled path is worth loading.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO

import numpy as np

from . import _scanner as scanner
from ._counting import MINUTE, Tally, tally_lines
from ._memory import CounterMemory
from ._tarball_bytes import NOT_A_TARBALL, judge_paths
from .formats import CombinedParser


class PathMemory:
    """What counters know of paths: the known paths (ids, bytes) and the package each is
    a tarball of, handed from one counter to the next through a :class:`CounterMemory`: a
    backfill worker makes a counter per object, and the popular tarballs are in every
    object, so each is judged once per worker rather than once per object."""

    def __init__(self) -> None:
        self.paths = scanner.KnownPaths()
        self.package_ids: dict[tuple[str, str], int] = {}
        self.packages: list[tuple[str, str]] = []  #: (package, version)
        self._names = self._versions = np.zeros(0, dtype=object)  #: of packages, as arrays: picked at C speed

    def judge_new(self, buffer: bytes, scanned: scanner.Scanned) -> None:
        """Give the buffer's paths their ids, judging those met for the first time by the
        tarball rule (compiled: :mod:`._tarball_bytes`); only a package and version met
        for the first time make Python objects."""
        paths = self.paths
        new = paths.resolve(buffer, scanned)
        if not new:
            return
        text, parts = judge_paths(paths.arena, paths.spans[new.start : new.stop])
        package_ids, packages = self.package_ids, self.packages
        judged = []
        for package_start, package_end, version_start, version_end in parts:
            if package_start == NOT_A_TARBALL:
                judged.append(-1)
                continue
            package = (text[package_start:package_end], text[version_start:version_end])
            found = package_ids.setdefault(package, len(package_ids))
            if found == len(packages):
                packages.append(package)
            judged.append(found)
        paths.package_of[new.start : new.stop] = judged

    def keys(self, packages: scanner.Int64Array, periods: scanner.Int64Array) -> Iterator[tuple[str, str, int]]:
        """(package, version, period) of each package id and period."""
        if len(self._names) < len(self.packages):  # the packages judged since, added
            added = self.packages[len(self._names) :]
            self._names = np.concatenate((self._names, np.array([package for package, _ in added], dtype=object)))
            self._versions = np.concatenate((self._versions, np.array([version for _, version in added], dtype=object)))
        return zip(self._names[packages].tolist(), self._versions[packages].tolist(), periods.tolist(), strict=True)


class BulkCounter:
    """Counts buffers one after another, remembering which paths are tarballs of which
    package (at most ``cache_limit`` paths, in a :class:`PathMemory` that ``memory`` hands
    on from counter to counter when given). Refused
    lines go to ``rejects`` when given.

    :meth:`count` is :meth:`scan`, :meth:`finish` and :meth:`flush`. A caller with cores
    to spare scans the next buffers in other threads (the scan holds no lock, and keeps no
    state) while this thread finishes the earlier ones, in order; a caller with many
    buffers for one tally flushes once, after the last: until then the downloads are
    summed by compiled code, and the tally's keys are made once, not once per buffer."""

    def __init__(
        self, cache_limit: int = 100_000, rejects: IO[str] | None = None, memory: CounterMemory | None = None
    ) -> None:
        self.cache_limit = cache_limit
        self.rejects = rejects
        self._parser = CombinedParser()
        self._shared = memory if memory is not None else CounterMemory()
        self._memory = self._path_memory()
        self._held = scanner.Downloads(MINUTE)
        self._held_for: Tally | None = None  #: the tally the downloads held belong to

    def count(self, buffer: bytes, tally: Tally) -> None:
        """Count every line of ``buffer`` (combined or common format) into ``tally``."""
        self.finish(buffer, self.scan(buffer), tally)
        self.flush()

    @staticmethod
    def scan(buffer: bytes) -> tuple[scanner.Scanned, scanner.Int64Array]:
        """The compiled part of counting ``buffer``, safe to run in any thread."""
        figures = scanner.new_figures()
        return scanner.scan(buffer, figures), figures

    def finish(self, buffer: bytes, scan: tuple[scanner.Scanned, scanner.Int64Array], tally: Tally) -> None:
        """Add what :meth:`scan` found in ``buffer`` to ``tally``, and count the lines it
        left to the parser. Buffers are finished in the order they come in the log, in one
        thread. The downloads are held until :meth:`flush` (or a buffer of another tally)."""
        scanned, figures = scan
        tally.requests += int(figures[scanner.REQUESTS])
        for digit, found in enumerate(figures[scanner.FIRST_CLASS :].tolist()):
            if found:
                tally.by_status_class[f"{digit}xx"] += found
        tally.bytes_served += scanner.bytes_served(figures)
        if len(scanned.pairs):
            self._hold(buffer, scanned, tally)
        if len(scanned.odd_lines):
            lines = (buffer[start:end].decode("utf-8", "replace") for start, end in scanned.odd_lines.tolist())
            tally_lines(lines, self._parser, tally, self.rejects)

    def flush(self) -> None:
        """Add the downloads held to the tally they belong to."""
        tally, self._held_for = self._held_for, None
        if tally is None:
            return
        packages, periods, counts = self._held.take().T
        _add_counts(tally.downloads, dict(zip(self._memory.keys(packages, periods), counts.tolist(), strict=True)))

    def _path_memory(self) -> PathMemory:
        """The path memory handed on by the counters before this one, or a new one once it
        holds more than ``cache_limit`` paths (a counter still holding downloads keeps the
        one it counted them with)."""
        found = self._shared.held
        if not isinstance(found, PathMemory) or len(found.paths) > self.cache_limit:
            found = self._shared.held = PathMemory()
        return found

    def _hold(self, buffer: bytes, scanned: scanner.Scanned, tally: Tally) -> None:
        """Add the buffer's downloads per (package, version, period of the tally's
        resolution) to those held: the scanner's (path, minute) counts, of the paths that
        are package tarballs, summed where paths name the same tarball (``%40scope``, a
        query string) by compiled code; each path met for the first time is judged by the
        tarball rule (:class:`PathMemory`)."""
        if self._held_for is not tally or len(self._memory.paths) > self.cache_limit:
            self.flush()  # package ids live until a flush: then the memory may be a new one
            self._memory = self._path_memory()
            if self._held.resolution != tally.resolution:
                self._held = scanner.Downloads(tally.resolution)
            self._held_for = tally
        self._memory.judge_new(buffer, scanned)
        self._held.add(scanned, self._memory.paths)


def _add_counts(counter: dict[tuple[str, str, int], int], more: dict[tuple[str, str, int], int]) -> None:
    """``counter += more``, at C speed: Counter.update would add one key at a time in Python."""
    for key in filter(counter.__contains__, more):  # not keys() & keys(): that walks all of counter's
        more[key] += counter[key]
    dict.update(counter, more)


def tally_buffer(buffer: bytes, tally: Tally | None = None) -> Tally:
    """Count every line of one buffer (combined or common format) into ``tally``."""
    tally = tally if tally is not None else Tally()
    BulkCounter().count(buffer, tally)
    return tally
