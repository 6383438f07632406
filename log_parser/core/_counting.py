"""npm's counting rule and the operational figures, over parsed requests. Sans-I/O.

A download is a GET of a package tarball answered 200: HEAD, 206 ranges, 304 revalidations,
errors and everything that is not a tarball are requests, not downloads.

Strategy: a :class:`Tally` is added to one request at a time, deciding whether it is a
download before it changes anything, so a request never counts half; :func:`tally_lines`
runs a parser over lines and counts each refused line by its reason instead of stopping.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING

from ._records import ParseError, Request
from ._tarball import parse_tarball_path

if TYPE_CHECKING:
    from .formats import LineParser


def is_download(request: Request) -> tuple[str, str] | None:
    """``(package, version)`` when ``request`` counts as a download."""
    if request.status != 200 or request.method != "GET":
        return None
    return parse_tarball_path(request.path)


#: Seconds a download count covers: a minute, or a UTC day (all the store keeps).
MINUTE, DAY = 60, 86400


@dataclass
class Tally:
    """Downloads per (package, version, minute) and what operators watch beside them.

    ``resolution`` is the period a download count covers, in seconds: a minute by default;
    a job that keeps only days (``count``, the backfill's workers) asks for :data:`DAY`, and
    has some twenty times fewer counts to fold into the store's rows. Whatever it is, a
    count's key holds the epoch second its period starts at."""

    downloads: Counter[tuple[str, str, int]] = field(default_factory=Counter)
    requests: int = 0
    by_status_class: Counter[str] = field(default_factory=Counter)  #: "2xx", "3xx", ...
    bytes_served: int = 0
    cache_hits: int = 0
    cache_known: int = 0  #: requests whose log said hit or miss
    rejected: Counter[str] = field(default_factory=Counter)  #: lines by reason
    format: str | None = None  #: the format the lines were read as, when one log was
    compression: str | None = None  #: "gzip", "bzip2", "zstd" or "xz": how the input was compressed
    damage: str | None = None  #: what was wrong with the compressed input, which was counted as far as it went
    resolution: int = MINUTE  #: seconds each download count covers: a whole number of minutes that divides a day

    def __post_init__(self) -> None:
        if self.resolution <= 0 or self.resolution % MINUTE or DAY % self.resolution:
            raise ValueError(f"a tally's resolution must be whole minutes that divide a day, not {self.resolution}")

    def add(self, request: Request) -> None:
        found = is_download(request)  # first: should it fail, the request is not half counted
        self.requests += 1
        self.by_status_class[f"{request.status // 100}xx"] += 1
        self.bytes_served += request.size
        if request.cache_hit is not None:
            self.cache_known += 1
            self.cache_hits += request.cache_hit
        if found is not None:
            self.downloads[(found[0], found[1], request.time - request.time % self.resolution)] += 1

    def reject(self, reason: str) -> None:
        self.rejected[reason] += 1

    @property
    def cache_hit_ratio(self) -> float | None:
        return self.cache_hits / self.cache_known if self.cache_known else None

    @property
    def total_downloads(self) -> int:
        return sum(self.downloads.values())


def tally_lines(lines: Iterable[str], parser: LineParser, tally: Tally, rejects: IO[str] | None = None) -> None:
    """Parse and tally lines one by one; a refused line is counted by reason (and written
    to ``rejects`` with it), never fatal. A line that makes the parser fail in a way it
    does not mean to (a bug) is refused as ``parser failure: <error>``: it costs that
    line, never the lines beside it or the run (``live`` takes lines from the network)."""
    for line in lines:
        try:
            request = parser.parse(line)
            if request is not None:
                tally.add(request)
        except ParseError as exc:
            _reject(tally, str(exc), line, rejects)
        except Exception as exc:  # one line's failure must not stop the run: counted, by name
            _reject(tally, f"parser failure: {type(exc).__name__}", line, rejects)


def _reject(tally: Tally, reason: str, line: str, rejects: IO[str] | None) -> None:
    tally.reject(reason)
    if rejects is not None:
        rejects.write(f"{reason}\t{line.rstrip()}\n")
