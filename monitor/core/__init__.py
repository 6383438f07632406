"""The pure core of numbat-run: readings in, events out, no I/O.

The events and their fields (:mod:`._events`), the rule that says when the child has
started (:class:`StartDetector`), the child's output as bounded lines
(:class:`LineSplitter`, :func:`line_text`, :func:`last_output`), the rate limit on the
lines sent (:class:`RateLimiter`), the CPU rate of two readings (:class:`CpuRate`) and the
periodic deadlines (:class:`Ticker`). Every clock is handed in (monotonic seconds).
Nothing here starts a process, reads /proc, touches a signal or a socket: the shell in
:mod:`monitor` does, and hands the readings in.
"""

from __future__ import annotations

from . import _events as events
from ._events import ChildExit, Metric, Stop, exit_severity
from ._lines import Line, LineSplitter, fit_json, last_output, line_text
from ._rate import RateLimiter
from ._start import NotStarted, StartDetector, Started
from ._ticker import Ticker
from ._usage import CpuRate, HostUsage, TreeUsage, cpu_percent

__all__ = [
    "ChildExit",
    "CpuRate",
    "HostUsage",
    "Line",
    "LineSplitter",
    "Metric",
    "NotStarted",
    "RateLimiter",
    "StartDetector",
    "Started",
    "Stop",
    "Ticker",
    "TreeUsage",
    "cpu_percent",
    "events",
    "exit_severity",
    "fit_json",
    "last_output",
    "line_text",
]
