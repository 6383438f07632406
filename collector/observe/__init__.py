"""What numbatd says about itself: its self-metrics (_metrics.py), the endpoint that
serves them with its health (_health.py), and its own log (_logging.py)."""

from ._health import HealthApp, serve_health
from ._logging import FloodGate, log, setup_logging
from ._metrics import AggregationStats, AlertOutputStats, AlertSinkStats, SelfMetrics, SinkStats

__all__ = [
    "AggregationStats",
    "AlertOutputStats",
    "AlertSinkStats",
    "FloodGate",
    "HealthApp",
    "SelfMetrics",
    "SinkStats",
    "log",
    "serve_health",
    "setup_logging",
]
