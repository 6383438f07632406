"""What the sinks that write to a remote store share (_sink.py: requests in flight,
retries with backoff, replay), the disk spool that keeps their batches while the store
is away (_spool.py) and the small HTTP client that posts to stores from the event loop
(_http_client.py)."""

from ._http_client import HttpClient, RequestFailed, Response
from ._sink import RemoteOptions, RemoteSink, SpoolOptions, Unavailable

__all__ = ["HttpClient", "RemoteOptions", "RemoteSink", "RequestFailed", "Response", "SpoolOptions", "Unavailable"]
