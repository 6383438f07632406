"""Counting a whole buffer of a combined log at once. Sans-I/O.

Strategy: the compiled :mod:`._scanner` reads the buffer; what it hands back is finished
here: each distinct download path is judged by the tarball rule once (and remembered
from one buffer to the next: the popular tarballs recur in every buffer of a log), and
the lines it left alone go through :class:`~log_parser.core.formats.CombinedParser` one
by one, which counts them or refuses them with its reason. So a buffer counts exactly as
the parser would count it line by line, whatever it holds. Loaded by :mod:`._counter`
only, which decides when the compiled path is worth loading.
"""

from __future__ import annotations

from typing import IO

import numpy as np

from . import _scanner as scanner
from ._counting import MINUTE, Tally, tally_lines
from ._tarball import parse_tarball_path
from .formats import CombinedParser


class BulkCounter:
    """Counts buffers one after another, remembering which paths are tarballs of which
    package (at most ``cache_limit`` paths). Refused lines go to ``rejects`` when given.

    :meth:`count` is :meth:`scan`, :meth:`finish` and :meth:`flush`. A caller with cores
    to spare scans the next buffers in other threads (the scan holds no lock, and keeps no
    state) while this thread finishes the earlier ones, in order; a caller with many
    buffers for one tally flushes once, after the last: until then the downloads are
    summed by compiled code, and the tally's keys are made once, not once per buffer."""

    def __init__(self, cache_limit: int = 100_000, rejects: IO[str] | None = None) -> None:
        self.cache_limit = cache_limit
        self.rejects = rejects
        self._paths = scanner.KnownPaths()
        self._package_ids: dict[tuple[str, str], int] = {}
        self._packages: list[tuple[str, str]] = []  #: (package, version)
        self._names = self._versions = np.zeros(0, dtype=object)  #: of _packages, as arrays
        self._parser = CombinedParser()
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
        left to the parser. Buffers are finished in the order they come in the log. The
        downloads are held until :meth:`flush` (or a buffer of another tally)."""
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
        if len(self._names) < len(self._packages):  # names and versions as object arrays: picked at C speed
            self._names = np.array([package for package, _ in self._packages], dtype=object)
            self._versions = np.array([version for _, version in self._packages], dtype=object)
        keys = zip(self._names[packages].tolist(), self._versions[packages].tolist(), periods.tolist(), strict=True)
        _add_counts(tally.downloads, dict(zip(keys, counts.tolist(), strict=True)))

    def _hold(self, buffer: bytes, scanned: scanner.Scanned, tally: Tally) -> None:
        """Add the buffer's downloads per (package, version, period of the tally's
        resolution) to those held: the scanner's (path, minute) counts, of the paths that
        are package tarballs, summed where paths name the same tarball (``%40scope``, a
        query string) by compiled code; each path met for the first time is judged here,
        by the tarball rule."""
        if self._held_for is not tally or len(self._paths) > self.cache_limit:
            self.flush()
            if len(self._paths) > self.cache_limit:  # package ids live until a flush: all can go
                self._paths = scanner.KnownPaths()
                self._package_ids.clear()
                self._packages.clear()
                self._names = self._versions = np.zeros(0, dtype=object)
            if self._held.resolution != tally.resolution:
                self._held = scanner.Downloads(tally.resolution)
            self._held_for = tally
        paths = self._paths
        for path_id in paths.resolve(buffer, scanned):
            paths.judge(path_id, self._package_id(paths.path(path_id)))
        self._held.add(scanned, paths)

    def _package_id(self, path: bytes) -> int:
        package = parse_tarball_path(path.decode("ascii"))
        if package is None:
            return -1
        found = self._package_ids.setdefault(package, len(self._package_ids))
        if found == len(self._packages):
            self._packages.append(package)
        return found


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
