"""A guard on cardinality: how many measurements and series a sink may create. Sans-I/O.

One service that puts a request id in a tag creates a series per request, and one that
puts it in the metric's name creates a measurement per request; either can take
InfluxDB down (the README has the numbers). The guard lets
a sink have at most so many measurements, each at most so many series, and all of them
together at most so many series, and refuses (the sink drops and counts) points that
would make more.

Its own memory is bounded with them: a series is remembered by its 64-bit hash, not its
text (the same few bytes, whatever its length), and a measurement by its name and a
count. Two series whose hashes collide, about one pair in 10^19 at a million series,
count as one: the second is written without being counted.
"""

from __future__ import annotations

#: Why a point was refused: the reasons its sink counts.
TOO_MANY_MEASUREMENTS = "cardinality: measurements"
TOO_MANY_SERIES_IN_MEASUREMENT = "cardinality: series per measurement"
TOO_MANY_SERIES = "cardinality: series"


class SeriesGuard:
    def __init__(self, per_measurement: int, total: int, measurements: int) -> None:
        self.per_measurement = per_measurement
        self.total = total
        self.measurements = measurements
        self._series: set[int] = set()
        self._per_measurement: dict[str, int] = {}

    def admit(self, measurement: str, series: str) -> str | None:
        """None if ``series`` is known or may be added; else why the point is refused."""
        key = hash(series)
        if key in self._series:
            return None
        count = self._per_measurement.get(measurement)
        if count is None and len(self._per_measurement) >= self.measurements:
            return TOO_MANY_MEASUREMENTS
        if count is not None and count >= self.per_measurement:
            return TOO_MANY_SERIES_IN_MEASUREMENT
        if len(self._series) >= self.total:
            return TOO_MANY_SERIES
        self._series.add(key)
        self._per_measurement[measurement] = (count or 0) + 1
        return None

    @property
    def series(self) -> int:
        return len(self._series)

    @property
    def measurement_count(self) -> int:
        return len(self._per_measurement)


def name_pattern(name: str) -> str:
    """What a flood of new names has in common, for one log line per pattern: the name
    with every dotted part that holds a digit written ``*`` (``api.req.7f3a.latency`` and
    ``api.req.91c2.latency`` are both ``api.req.*.latency``)."""
    return ".".join("*" if any(c.isdigit() for c in part) else part for part in name.split("."))
