"""The Graphite sink and everything it alone uses: its options and life (_sink.py), the
paths of numbat's mapping and the characters carbon takes (_paths.py), the plaintext and
pickle encodings (_encoding.py), the connection to carbon (_link.py) and what was written
on it but not yet known to be read (_window.py)."""

from ._encoding import PointEncoder
from ._paths import PathMaker, Template
from ._sink import GraphiteOptions, GraphiteSink

__all__ = ["GraphiteOptions", "GraphiteSink", "PathMaker", "PointEncoder", "Template"]
