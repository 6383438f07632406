"""Aggregation: statsd's semantics for every input. Sans-I/O (no trio, no clock of its
own): events in (:meth:`Aggregator.add`), a flush time handed in
(:meth:`Aggregator.flush`), summaries out as numbat events; :func:`graphite_paths` names
a summary's values as Etsy statsd's Graphite backend does. The trio stage that owns an
aggregator lives in ``_stage.py``.

Modules: ``_options.py`` (the options and rules), ``_aggregator.py`` (series, flushes,
bounds), ``_timers.py`` (statsd's timer statistics), ``_sketch.py`` (the DDSketch past
``max_samples``), ``_distinct.py`` (the HyperLogLog past ``max_set_members``),
``_summary.py`` (a summary's shape), ``_graphite.py`` (its paths),
``_statsd_scan.py`` (statsd lines straight from the bytes into :meth:`Aggregator.add_scan`,
compiled by numba: imported by a listener that scans, never by this package).
"""

from ._aggregator import Aggregator, AggregatorStats
from ._graphite import GraphiteNaming, graphite_paths
from ._options import AggregationOptions, Rule
from ._summary import Summary

__all__ = ["AggregationOptions", "Aggregator", "AggregatorStats", "GraphiteNaming", "Rule", "Summary", "graphite_paths"]
