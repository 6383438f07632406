"""The wire: bytes in, events out. Sans-I/O (in the manner of h11): no sockets, no trio,
no clock, so fuzzers and property tests can hammer it directly.

A listener frames what it reads into lines (:class:`LineFramer`, or whole datagrams and
bodies bounded by :func:`drop_long_lines`), hands them to the decoder of its format
(:func:`decoder_for`), and gets a :class:`Batch`: numbat events (the emitter's
:data:`~emitter.event.Event`), their JSON lines where known, and the lines refused, each
with a reason. The batch is what the router fans out to the sinks.
"""

from emitter.event import Event

from ._batch import TIME_RANGE_MS, Batch, Rejection
from ._decoding import Decoder
from ._formats import FORMATS, Format, decoder_for
from ._framing import LineFramer, drop_long_lines

__all__ = [
    "FORMATS",
    "TIME_RANGE_MS",
    "Batch",
    "Decoder",
    "Event",
    "Format",
    "LineFramer",
    "Rejection",
    "decoder_for",
    "drop_long_lines",
]
