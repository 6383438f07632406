"""The Prometheus remote write sink (remote write 1.0) and everything it alone uses: its
options and life (_sink.py), the meaning of the receiver's answers (_answers.py), the
mapping of events and summaries to series (_mapping.py) on Prometheus's naming rules
(_names.py), the grouping of a batch into ordered requests (_requests.py) and the
hand-written protobuf of WriteRequest (_protobuf.py). Retries and the spool are
remote/'s."""

from ._sink import RemoteWriteOptions, RemoteWriteSink

__all__ = ["RemoteWriteOptions", "RemoteWriteSink"]
