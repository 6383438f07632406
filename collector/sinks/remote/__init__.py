"""What the sinks that write to a remote store share (_sink.py: requests in flight,
retries with backoff, replay) and the disk spool that keeps their batches while the
store is away (_spool.py)."""

from ._sink import RemoteOptions, RemoteSink, SpoolOptions, Unavailable

__all__ = ["RemoteOptions", "RemoteSink", "SpoolOptions", "Unavailable"]
