"""The InfluxDB sink and everything it alone uses: its options and life (_sink.py), the
line-protocol encoder (_lineprotocol.py) and its compiled fast path (_transcoder.py,
numba: imported only when an InfluxDB sink is made), the cardinality guard
(_cardinality.py) and the writers of both write APIs (_writers.py; the v1 writer posts
with remote/'s small HTTP client)."""

from pathlib import Path

from ._lineprotocol import LineEncoder
from ._sink import InfluxOptions, InfluxSink

#: Where the compiled module is: numba's cache folder is chosen for it (jit.use_compiled_cache).
COMPILED_MODULE_DIR = Path(__file__).parent

__all__ = ["COMPILED_MODULE_DIR", "InfluxOptions", "InfluxSink", "LineEncoder"]
