"""The one place that turns a format's name into its decoder.

Every listener asks :func:`decoder_for` (the intake for its configured format, the HTTP
listener for the precision of an InfluxDB write) rather than choosing a class itself, so
a format is added here and nowhere else. Decoders hold no state between calls, so one
instance per format and precision is shared by every listener.
"""

from __future__ import annotations

from functools import cache
from typing import Literal, get_args

from ._decoding import Decoder
from ._graphite import GraphiteDecoder
from ._influx import InfluxDecoder
from ._numbat import NumbatDecoder
from ._statsd import StatsdDecoder

#: What a listener's ``format`` may say.
Format = Literal["numbat", "statsd", "influx", "graphite"]
FORMATS: tuple[str, ...] = get_args(Format)


@cache
def decoder_for(format: str, precision: str = "ns") -> Decoder:
    """The decoder of ``format`` (one of :data:`FORMATS`); ``precision``, the unit of
    line-protocol timestamps, matters to ``influx`` alone. ValueError naming what is
    unknown."""
    if format == "influx":
        return InfluxDecoder(precision)  # raises ValueError for an unknown precision
    if format == "numbat":
        return NumbatDecoder()
    if format == "statsd":
        return StatsdDecoder()
    if format == "graphite":
        return GraphiteDecoder()
    raise ValueError(f"unknown format {format!r}; one of {', '.join(FORMATS)}")
