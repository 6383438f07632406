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
from ._counting import Tally, tally_lines
from ._tarball import parse_tarball_path
from .formats import CombinedParser


class BulkCounter:
    """Counts buffers one after another, remembering which paths are tarballs of which
    package (at most ``cache_limit`` paths). Refused lines go to ``rejects`` when given."""

    def __init__(self, cache_limit: int = 100_000, rejects: IO[str] | None = None) -> None:
        self.cache_limit = cache_limit
        self.rejects = rejects
        self._package_of_path: dict[bytes, int] = {}  #: index into _packages, or -1
        self._package_ids: dict[tuple[str, str], int] = {}
        self._packages: list[tuple[str, str]] = []  #: (package, version)
        self._parser = CombinedParser()

    def count(self, buffer: bytes, tally: Tally) -> None:
        """Count every line of ``buffer`` (combined or common format) into ``tally``."""
        figures = scanner.new_figures()
        scanned = scanner.scan(buffer, figures)
        tally.requests += int(figures[scanner.REQUESTS])
        for digit, found in enumerate(figures[scanner.FIRST_CLASS :].tolist()):
            if found:
                tally.by_status_class[f"{digit}xx"] += found
        tally.bytes_served += scanner.bytes_served(figures)
        if len(scanned.downloads):
            _add_counts(tally.downloads, self._downloads(buffer, scanned))
        if len(scanned.odd_lines):
            lines = (buffer[start:end].decode("utf-8", "replace") for start, end in scanned.odd_lines.tolist())
            tally_lines(lines, self._parser, tally, self.rejects)

    def _downloads(self, buffer: bytes, scanned: scanner.Scanned) -> dict[tuple[str, str, int], int]:
        """Downloads per (package, version, minute): the scanner's (path, minute) counts,
        of the paths that are package tarballs, summed where paths name the same tarball
        (``%40scope``, a query string)."""
        if len(self._package_of_path) > self.cache_limit:  # ids live for one buffer: all can go
            self._package_of_path.clear()
            self._package_ids.clear()
            self._packages.clear()
        package_of_path = np.array(
            [self._package_of(buffer[start:end]) for start, end in scanned.paths.tolist()], dtype=np.int64
        )
        paths, minutes, counts = scanned.downloads.T
        packages = package_of_path[paths]
        tarballs = packages >= 0
        if not tarballs.any():
            return {}
        packages, minutes, counts = packages[tarballs], minutes[tarballs], counts[tarballs]
        order = np.lexsort((minutes, packages))
        packages, minutes, counts = packages[order], minutes[order], counts[order]
        firsts = np.flatnonzero(np.diff(packages, prepend=-1) | np.diff(minutes, prepend=-1))
        names = self._packages
        return {
            (*names[package], minute): count
            for package, minute, count in zip(
                packages[firsts].tolist(),
                minutes[firsts].tolist(),
                np.add.reduceat(counts, firsts).tolist(),
                strict=True,
            )
        }

    def _package_of(self, path: bytes) -> int:
        found = self._package_of_path.get(path)
        if found is None:
            package = parse_tarball_path(path.decode("ascii"))
            found = -1 if package is None else self._package_ids.setdefault(package, len(self._package_ids))
            if found == len(self._packages):
                self._packages.append(package)  # type: ignore[arg-type]
            self._package_of_path[path] = found
        return found


def _add_counts(counter: dict[tuple[str, str, int], int], more: dict[tuple[str, str, int], int]) -> None:
    """``counter += more``, at C speed: Counter.update would add one key at a time in Python."""
    for key in more.keys() & counter.keys():
        more[key] += counter[key]
    dict.update(counter, more)


def tally_buffer(buffer: bytes, tally: Tally | None = None) -> Tally:
    """Count every line of one buffer (combined or common format) into ``tally``."""
    tally = tally if tally is not None else Tally()
    BulkCounter().count(buffer, tally)
    return tally
