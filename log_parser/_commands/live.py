"""``numbat-logs live``: the live job with the input the arguments name, until a signal.

Strategy: the arguments become :class:`~log_parser.live.LiveOptions` and one input (a
followed file, stdin, or a syslog listener with its bounds); a syslog URL that cannot be
listened on is refused before the store is opened (exit status 2).
"""

from __future__ import annotations

import argparse
import sys

import trio

from .._syslog_limits import ListenerLimits
from ..live import LineInput, Live, LiveOptions, follow_file, listen_syslog, read_stdin
from ..store import StoreError


def run(args: argparse.Namespace) -> int:
    options = LiveOptions(
        db=args.db,
        format=args.format,
        flush_interval=args.flush_interval,
        from_start=args.from_start,
        emit_uri=args.emit_uri,
        json_fields=args.json_fields,
    )
    line_input: LineInput
    if args.file:
        line_input = follow_file(args.file, options.poll_interval, options.from_start)
    elif args.stdin:
        line_input = read_stdin()
    else:
        try:
            limits = ListenerLimits(args.max_connections, args.idle_timeout, args.max_line_bytes)
            line_input = listen_syslog(args.syslog, limits)
        except ValueError as exc:
            print(f"numbat-logs: {exc}", file=sys.stderr)
            return 2
    try:
        live = Live(options)
    except StoreError as exc:
        print(f"numbat-logs: {exc}", file=sys.stderr)
        return 2
    trio.run(live.run, line_input)
    return 0
