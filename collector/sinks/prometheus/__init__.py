"""The Prometheus exposition sink: numbatd serves the metrics it received as a page
Prometheus scrapes, as statsd_exporter does, with its mapping rules.

Modules, each with one job: _options.py (the sink's keys), _mapping.py (the rules: a
name in, a family and labels out), _templates.py (capture references), _absorb.py
(which series an event updates), _updates.py (how), _series.py (what each type keeps),
_store.py (the series by family: bound, expiry, a page that stays valid), _text.py (the
text format's grammar), _exposition.py (the page), _server.py (its HTTP server),
_sink.py (the sink's life).
"""

from ._mapping import MappingRule
from ._options import PrometheusOptions
from ._sink import PrometheusSink

__all__ = ["MappingRule", "PrometheusOptions", "PrometheusSink"]
