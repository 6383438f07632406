"""The router: batches from the listeners fanned out to the sinks' queues (_router.py), and
each sink's life behind its queue (_runner.py: its task, drain, stop, metrics; _queue.py)."""

from ._queue import QueueClosed, SinkQueue
from ._router import Route, Router
from ._runner import CONTENT_ERRORS, SinkRunner

__all__ = ["CONTENT_ERRORS", "QueueClosed", "Route", "Router", "SinkQueue", "SinkRunner"]
