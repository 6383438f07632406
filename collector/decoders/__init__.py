"""Decoders: bytes in, events and rejections out. Sans-I/O (in the manner of h11):
no sockets, no trio, so fuzzers and property tests can hammer them directly."""

from __future__ import annotations

from .base import Decoder
from .graphite import GraphiteDecoder
from .influx import InfluxDecoder
from .numbat import NumbatDecoder
from .statsd import StatsdDecoder

DECODERS: dict[str, type[Decoder]] = {
    "numbat": NumbatDecoder,
    "statsd": StatsdDecoder,
    "influx": InfluxDecoder,
    "graphite": GraphiteDecoder,
}

__all__ = ["DECODERS", "Decoder", "GraphiteDecoder", "InfluxDecoder", "NumbatDecoder", "StatsdDecoder"]
