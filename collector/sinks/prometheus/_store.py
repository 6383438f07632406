"""The series on the page, by family, with their bound and their expiry. Sans-I/O: times
are handed in (seconds, monotonic).

Strategy:

- **One page, always valid.** A family is one name, one type, one HELP: an event that
  would give a family's name another type is refused (``type conflict``), as
  statsd_exporter refuses it. The sample names a family writes (a summary ``x`` writes
  ``x``, ``x_sum`` and ``x_count``; a histogram ``x_bucket`` too; a counter
  ``x_total``) are claimed by it, and a new family whose names another has claimed is
  refused (``name taken``): the page never holds two families' samples under one name,
  which parsers would read as one family's.
- **Label sets may differ within a family**: each set of labels is a series of its own.
  Prometheus takes that (the text format asks nothing more), where client_golang's
  registry refuses it and statsd_exporter answered 500 for the whole page.
- **A bound on series** (``max_series``): a new series past it is refused
  (``series limit``), counted by the caller; series already there go on updating.
- **Expiry**: a series not updated for its ``ttl`` seconds leaves the page. Series with a
  TTL sit in one queue per TTL value, in the order of their last update (moved to the
  end by each update), so a sweep looks only at the series that are due.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable

from ._series import Kind, Labels, Series

TYPE_CONFLICT = "type conflict"
NAME_TAKEN = "name taken"
SERIES_LIMIT = "series limit"


def sample_names(family: str, kind: Kind) -> tuple[str, ...]:
    """The names a family's HELP, TYPE and samples are written under."""
    if kind == "histogram":
        return (family, f"{family}_bucket", f"{family}_sum", f"{family}_count")
    if kind == "summary":
        return (family, f"{family}_sum", f"{family}_count")
    return (family,)


class Family:
    __slots__ = ("help", "kind", "name", "series")

    def __init__(self, name: str, kind: Kind, help: str) -> None:
        self.name = name
        self.kind = kind
        self.help = help  #: as given (the page escapes it)
        self.series: dict[Labels, Series] = {}


class SeriesStore:
    def __init__(self, max_series: int) -> None:
        self.max_series = max_series
        self.families: dict[str, Family] = {}
        self.count = 0  #: series on the page
        #: Bumped by every change the page shows; the page is rendered again only then.
        self.version = 0
        self._claims: dict[str, str] = {}  # a sample name -> the family writing it
        self._expiring: dict[float, OrderedDict[int, Series]] = {}  # by TTL, least recently updated first

    def series(
        self,
        family: str,
        kind: Kind,
        help: str,
        labels: Labels,
        make: Callable[[], Series],
    ) -> Series | str:
        """The series ``labels`` of ``family``, made by ``make`` if it is new; or why it cannot be."""
        found = self.families.get(family)
        if found is None:
            for name in sample_names(family, kind):
                if name in self._claims:
                    return NAME_TAKEN
        elif found.kind != kind:
            return TYPE_CONFLICT
        else:
            existing = found.series.get(labels)
            if existing is not None:
                return existing
        if self.count >= self.max_series:
            return SERIES_LIMIT
        if found is None:
            found = self.families[family] = Family(family, kind, help)
            for name in sample_names(family, kind):
                self._claims[name] = family
        made = found.series[labels] = make()
        self.count += 1
        if made.ttl:
            self._queue(made.ttl)[id(made)] = made
        self.version += 1
        return made

    def touch(self, series: Series, now: float, ttl: float) -> None:
        """``series`` was updated at ``now``, under a rule whose TTL is ``ttl`` (the last
        update's TTL is the one that counts, as in statsd_exporter)."""
        series.updated = now
        if ttl != series.ttl:
            if series.ttl:
                del self._expiring[series.ttl][id(series)]
            series.ttl = ttl
            if ttl:
                self._queue(ttl)[id(series)] = series
        elif ttl:
            self._expiring[ttl].move_to_end(id(series))

    def expire(self, now: float) -> list[Series]:
        """Remove the series whose TTL has passed since their last update; those removed."""
        removed = []
        for ttl, queue in self._expiring.items():
            while queue:
                oldest = queue[next(iter(queue))]
                if now - oldest.updated < ttl:
                    break
                queue.popitem(last=False)
                self._remove(oldest)
                removed.append(oldest)
        if removed:
            self._expiring = {ttl: queue for ttl, queue in self._expiring.items() if queue}
            self.version += 1
        return removed

    def ordered(self) -> Iterable[Family]:
        """The families in the order of their names: the page reads the same every time."""
        return (self.families[name] for name in sorted(self.families))

    def _queue(self, ttl: float) -> OrderedDict[int, Series]:
        queue = self._expiring.get(ttl)
        if queue is None:
            queue = self._expiring[ttl] = OrderedDict()
        return queue

    def _remove(self, series: Series) -> None:
        series.alive = False
        family = self.families[series.family]
        del family.series[series.labels]
        self.count -= 1
        if not family.series:
            del self.families[family.name]
            for name in sample_names(family.name, family.kind):
                del self._claims[name]
