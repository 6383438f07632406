"""``numbat-logs live``: count downloads as a log is written.

The live job (:class:`Live`) counts the lines its input hands it and flushes them to the
store on a timer; the inputs: a file followed across rotation (:func:`follow_file`),
standard input (:func:`read_stdin`), or a syslog listener on TCP or UDP with named bounds
(:func:`listen_syslog`, :class:`ListenerLimits`).
"""

from __future__ import annotations

from .._syslog_address import parse_syslog_url
from .._syslog_limits import ListenerLimits
from ._follow import FileFollower
from ._inputs import follow_file, read_stdin
from ._job import LineHandler, LineInput, Live, LiveOptions
from ._syslog import listen_syslog

__all__ = [
    "FileFollower",
    "LineHandler",
    "LineInput",
    "ListenerLimits",
    "Live",
    "LiveOptions",
    "follow_file",
    "listen_syslog",
    "parse_syslog_url",
    "read_stdin",
]
