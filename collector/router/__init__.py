"""The router: batches from the listeners fanned out to the sinks' queues (_router.py), and
each sink's life behind its queue (_runner.py: its task, drain, stop, metrics; _queue.py)."""

from ._queue import SinkQueue
from ._router import Router
from ._runner import SinkRunner

__all__ = ["Router", "SinkQueue", "SinkRunner"]
