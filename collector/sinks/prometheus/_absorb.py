"""What each event does to the page: which series it updates, and how. Sans-I/O: the
time (seconds, monotonic) is handed in.

Raw events (a sink whose input is "raw"):

- statsd's ``c`` adds ``value / rate`` to a counter (a negative one is refused, as
  statsd_exporter refuses it); ``g`` sets a gauge, or changes it when it came as ``+N``
  or ``-N``; ``ms`` (converted to seconds, as statsd_exporter does), ``h`` and ``d`` are
  observed by a summary or a histogram, ``1 / rate`` times (whole times, as
  statsd_exporter repeats them); a service check (``_sc``) is a gauge of its status, 0
  to 3. Sets (``s``) need an aggregation (below) and DogStatsD events carry no number:
  both are skipped, counted.
- Events that came with no type (numbat, Influx, Graphite) are what their rule's
  ``metric_type`` says, a gauge by default: a gauge is set to ``value``, a counter
  grows by it, an observer observes it.

An aggregation's summaries (a sink whose input is an aggregation): a ``counter``
summary's ``count`` adds to a counter (so ``rate()`` in PromQL gives statsd's rate); a
``gauge``'s ``value`` and a ``set``'s ``count`` (its distinct values in the interval)
set a gauge; a ``timer``'s ``count`` and ``sum`` add to a summary's ``_count`` and
``_sum``, whose quantiles are the flush's ``median`` and ``upper_P``, or, as a
histogram, its bins (``histogram_bins``) add to the buckets.

Labels are the event's fields (a summary's key fields), their names made valid, beside
the rule's labels (which win unless the rule says ``honor_labels``); a label whose value
is empty is left out, as Prometheus leaves it out; a field named ``le`` on a histogram
or ``quantile`` on a summary is written ``exported_le``, ``exported_quantile``.

Strategy: an event's series is found through a cache keyed by what makes it one (its
name, the type it came with, its label fields as they came), so the rules, the label
names and the label text are worked out once per series, not once per event; the
cache holds series, and a series that expired is looked up again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from ...aggregate._summary import OWN_FIELDS as SUMMARY_OWN_FIELDS
from ...aggregate._summary import is_statistic
from ._mapping import Incoming, Mapped, Mapper
from ._options import OWN_FIELDS
from ._series import (
    CounterSeries,
    FlushedSummarySeries,
    GaugeSeries,
    HistogramSeries,
    Labels,
    Series,
    SummarySeries,
)
from ._store import SeriesStore
from ._text import label_name
from ._updates import NOT_A_NUMBER, NUMBERS, RAW_UPDATES, SummaryUpdates, Update

Event = dict[str, Any]
#: How statsd's types come in; None: the type is the rule's.
STATSD_TYPES: dict[str, Incoming] = {"c": "counter", "g": "gauge", "ms": "observer", "h": "observer", "d": "observer"}
SUMMARY_KINDS: dict[str, Incoming] = {"counter": "counter", "gauge": "gauge", "set": "gauge", "timer": "observer"}
#: Why an event updated nothing: the reasons the sink counts.
STATSD_SET = "statsd set"
NOT_A_METRIC = "not a metric"
TOO_LONG = "too long"
UNKNOWN_KIND = "unknown summary kind"
UNWRITABLE = "unwritable"
#: Labels the format reserves in one type's samples: a field of that name is renamed.
_RESERVED_BY_KIND = {"histogram": "le", "summary": "quantile"}


class Absorber:
    """Events in, series of ``store`` updated; the reasons for what was skipped, counted."""

    def __init__(
        self,
        mapper: Mapper,
        store: SeriesStore,
        *,
        summaries: bool,
        label_fields: tuple[str, ...] = (),
        exclude_fields: Iterable[str] = (),
        max_text_length: int = 1_024,
        summary_max_age: float = 600.0,
        summary_age_buckets: int = 5,
    ) -> None:
        self.mapper = mapper
        self.store = store
        self.summaries = summaries  #: the input is an aggregation's summaries
        self.label_fields = label_fields
        self.not_labels = (SUMMARY_OWN_FIELDS if summaries else OWN_FIELDS) | frozenset(exclude_fields)
        self.max_text_length = max_text_length
        self.summary_max_age = summary_max_age
        self.summary_age_buckets = summary_age_buckets
        self.cache_size = max(2 * store.max_series, 10_000)
        # (name, type it came with, label fields) -> (series, how to update it, scale, ttl)
        self._targets: dict[tuple[Any, ...], tuple[Series, Update, float, float]] = {}
        self._label_names: dict[str, str] = {}
        self._summary_updates = SummaryUpdates()

    def absorb(
        self, events: Iterable[Event], now: float, skipped: dict[str, int], examples: dict[str, str] | None = None
    ) -> None:
        """Update the page with ``events``; count in ``skipped`` each one that updated
        nothing, by reason, and name the first of each reason in ``examples``."""
        one = self._one_summary if self.summaries else self._one_raw
        for event in events:
            try:
                reason = one(event, now)
            except (TypeError, ValueError, ArithmeticError):  # what it holds cannot be on the page
                reason = UNWRITABLE
            if reason is not None:
                count = skipped.get(reason, 0)
                skipped[reason] = count + 1
                if not count and examples is not None:
                    examples[reason] = str(event.get("name"))
        self.store.version += 1

    # -- raw events ------------------------------------------------------------------------

    def _one_raw(self, event: Event, now: float) -> str | None:
        statsd = event.get("statsd_type")
        incoming: Incoming | None = None
        if statsd is not None:
            incoming = STATSD_TYPES.get(statsd)
            if incoming is None:
                if statsd != "sc":
                    return STATSD_SET if statsd == "s" else NOT_A_METRIC
                incoming = "gauge"  # a service check: its status, 0 to 3
        if event.get("value").__class__ not in NUMBERS:
            return NOT_A_NUMBER
        if self.label_fields:
            items = self._chosen_items(event)
        else:
            not_labels = self.not_labels
            # a value that is no str keeps its type beside it: 1, 1.0 and True are one key
            # to Python, three label values to Prometheus
            items = tuple(
                [
                    (k, v) if v.__class__ is str else (k, (v.__class__, v))
                    for k, v in event.items()
                    if k not in not_labels
                ]
            )
        return self._update((event["name"], statsd, items), event, incoming, now)

    def _chosen_items(self, event: Event) -> tuple[tuple[str, Any], ...]:
        """The fields ``label_fields`` names, as they came (typed, as above)."""
        return tuple(
            [
                (k, v) if v.__class__ is str else (k, (v.__class__, v))
                for k in self.label_fields
                if (v := event.get(k, self)) is not self
            ]
        )

    # -- summaries ---------------------------------------------------------------------------

    def _one_summary(self, event: Event, now: float) -> str | None:
        incoming = SUMMARY_KINDS.get(event.get("kind"))  # type: ignore[arg-type]
        if incoming is None:
            return UNKNOWN_KIND
        if self.label_fields:
            items = self._chosen_items(event)
        else:  # a summary's key fields: every field but its own and its statistics
            not_labels = self.not_labels
            items = tuple(
                [
                    (k, v) if v.__class__ is str else (k, (v.__class__, v))
                    for k, v in event.items()
                    if k not in not_labels and not is_statistic(k)
                ]
            )
        return self._update((event["name"], event["kind"], items), event, incoming, now)

    def _update(self, key: tuple[Any, ...], event: Event, incoming: Incoming | None, now: float) -> str | None:
        """Update the series ``key`` names (found once, then remembered) with ``event``;
        the reason it was not, if it was not."""
        target = self._targets.get(key)
        if target is None or not target[0].alive:
            found = self._resolve(event, incoming, key, now)
            if isinstance(found, str):
                return found
            target = found
        series, update, scale, ttl = target
        reason = update(series, event, scale, now)
        if reason is None and (ttl or series.ttl):
            self.store.touch(series, now, ttl)
        return reason

    # -- finding a series --------------------------------------------------------------------

    def _resolve(
        self, event: Event, incoming: Incoming | None, key: tuple[Any, ...], now: float
    ) -> tuple[Series, Update, float, float] | str:
        mapped = self.mapper.decide(event["name"], incoming)
        if isinstance(mapped, str):
            return mapped
        labels = self._labels(mapped, key[2])
        if isinstance(labels, str):
            return labels
        found = self.store.series(mapped.family, mapped.kind, mapped.help, labels, self._maker(mapped, labels, now))
        if isinstance(found, str):
            return found
        scale = mapped.scale
        if not self.summaries and event.get("statsd_type") == "ms":
            scale *= 0.001  # statsd's milliseconds, Prometheus' seconds (statsd_exporter does the same)
        target = (found, self._update_for(found), scale, mapped.ttl)
        if len(self._targets) >= self.cache_size:
            self._targets.clear()
        self._targets[key] = target
        return target

    def _labels(self, mapped: Mapped, items: tuple[tuple[str, Any], ...]) -> Labels | str:
        """The series' labels: the fields' and the rule's, valid, sorted by name."""
        labels: dict[str, str] = {}
        reserved = _RESERVED_BY_KIND.get(mapped.kind)
        limit = self.max_text_length
        for field, value in items:
            name = self._label_name(field)
            if not name:
                continue
            if name == reserved:
                name = "exported_" + name
            text = _label_text(value)
            if len(name) > limit or len(text) > limit:
                return TOO_LONG
            labels.setdefault(name, text)  # two fields of one label name: the first decides
        for rule_label, text in mapped.labels:
            if len(text) > limit:
                return TOO_LONG
            name = "exported_" + rule_label if rule_label == reserved else rule_label
            if not (mapped.honor_labels and labels.get(name)):
                labels[name] = text
        if len(mapped.family) > limit:
            return TOO_LONG
        return tuple(sorted((name, text) for name, text in labels.items() if text))

    def _label_name(self, field: str) -> str:
        name = self._label_names.get(field)
        if name is None:
            if len(self._label_names) >= 10_000:
                self._label_names.clear()
            name = self._label_names[field] = label_name(field)
        return name

    def _maker(self, mapped: Mapped, labels: Labels, now: float) -> Callable[[], Series]:
        family, ttl = mapped.family, mapped.ttl

        def make() -> Series:
            if mapped.kind == "counter":
                return CounterSeries(family, labels, ttl, now)
            if mapped.kind == "gauge":
                return GaugeSeries(family, labels, ttl, now)
            if mapped.kind == "histogram":
                # an aggregation's histograms take the bounds of its bins
                return HistogramSeries(family, labels, ttl, now, () if self.summaries else mapped.buckets)
            if self.summaries:
                return FlushedSummarySeries(family, labels, ttl, now)
            return SummarySeries(
                family,
                labels,
                ttl,
                now,
                quantiles=mapped.quantiles,
                max_age=self.summary_max_age,
                age_buckets=self.summary_age_buckets,
            )

        return make

    def _update_for(self, series: Series) -> Update:
        return self._summary_updates[series.kind] if self.summaries else RAW_UPDATES[series.kind]


def _label_text(value: Any) -> str:
    if value.__class__ is str:
        return value
    kind, value = value  # (type, value) from _label_items
    if kind is bool:
        return "true" if value else "false"
    if kind is float:
        return repr(value)
    return str(value)
