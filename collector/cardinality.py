"""A guard on series cardinality. Sans-I/O.

One service that puts a request id in a tag creates a series per request and can take
InfluxDB down; the guard lets a measurement have at most so many series, and all of
them together at most so many, dropping (and counting) points that would make more.
"""

from __future__ import annotations


class SeriesGuard:
    def __init__(self, per_measurement: int, total: int) -> None:
        self.per_measurement = per_measurement
        self.total = total
        self._series: dict[str, set[str]] = {}
        self._count = 0

    def admit(self, measurement: str, series: str) -> bool:
        """True if ``series`` is known or may be added; False for a point to drop."""
        known = self._series.get(measurement)
        if known is None:
            known = self._series[measurement] = set()
        elif series in known:
            return True
        if len(known) >= self.per_measurement or self._count >= self.total:
            return False
        known.add(series)
        self._count += 1
        return True

    @property
    def series(self) -> int:
        return self._count
