"""``numbat-run``: start a command, pass its signals and exit status on, report on it.

Exit status: the child's (128 + N when signal N killed it); 2 for bad arguments; 126
when the command cannot be executed and 127 when it is not found, as a shell says.
``--check`` runs nothing: it checks the arguments and that the command can be found
(exit status 0, or 2 saying what is wrong), as a deployment does before it restarts a
service with new ones (deploy/ansible/).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from collections.abc import Sequence

from emitter import InvalidURI, parse_uri

from ._options import RunOptions
from ._run import run

DEFAULT_URI = "udp://127.0.0.1:3333"
DEFAULTS = RunOptions(command=("true",), app="defaults")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="numbat-run",
        usage="%(prog)s [options] -- COMMAND [ARGS...]",
        description="Start COMMAND as a child, pass its input, output, signals and exit status through, "
        "and send its spawn, start, cpu, memory, threads, fds, uptime, heartbeat and exit events "
        "(and optionally its output lines and the host's load) to a numbat collector.",
    )
    d = DEFAULTS
    add = parser.add_argument
    add("--uri", default=os.environ.get("NUMBAT_URI", DEFAULT_URI), help=f"collector; $NUMBAT_URI or {DEFAULT_URI}")
    add("--app", default=os.environ.get("NUMBAT_APP"), help="service name, the events' prefix; $NUMBAT_APP")
    add("--node", default=os.environ.get("NUMBAT_NODE"), help="node name; $NUMBAT_NODE")
    add("--interval", type=float, default=d.interval, help=f"seconds between readings (default {d.interval:g})")
    add("--heartbeat", type=float, default=d.heartbeat, help=f"seconds between heartbeats (default {d.heartbeat:g})")
    add("--logs", action="store_true", help="send each line of the child's stdout and stderr as an event")
    add("--host-metrics", action="store_true", help="send the host's load average, memory and disk use")
    add("--disk", dest="disk_path", default=d.disk_path, help="the disk --host-metrics reports (default /)")
    add("--shell", action="store_true", help="run COMMAND with /bin/sh -c")
    add(
        "--start-timeout",
        type=float,
        default=d.start_timeout,
        help=f"seconds to wait for a listening TCP port before a start warning; 0: do not wait "
        f"(default {d.start_timeout:g})",
    )
    add(
        "--stop-timeout",
        type=float,
        default=d.stop_timeout,
        help=f"seconds after SIGTERM or SIGINT before the child gets SIGKILL (default {d.stop_timeout:g})",
    )
    add("--log-line-bytes", type=int, default=d.log_line_bytes, help="longest log line sent, as JSON bytes")
    add("--log-rate", type=float, default=d.log_rate, help=f"log lines sent per second (default {d.log_rate:g})")
    add("--log-burst", type=int, default=d.log_burst, help=f"log lines sent at once (default {d.log_burst})")
    add("--tail-lines", type=int, default=d.tail_lines, help="lines of output a start warning carries at most")
    add("--flush-timeout", type=float, default=d.flush_timeout, help="seconds to deliver the last events")
    add("--check", action="store_true", help="check the arguments and that COMMAND is found, then exit (0 or 2)")
    add("command", nargs=argparse.REMAINDER, help="the command and its arguments, after --")
    return parser


def parse_options(argv: Sequence[str] | None = None) -> RunOptions:
    return _parse(build_parser(), argv)[0]


def _parse(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> tuple[RunOptions, bool]:
    """The options, and whether only a check was asked for."""
    args = parser.parse_args(argv)
    command = list(args.command)
    if command[:1] == ["--"]:
        command = command[1:]
    if not command:
        parser.error("a COMMAND to run is needed, after --")
    if not args.app:
        parser.error("--app (or $NUMBAT_APP) is required")
    try:
        parse_uri(args.uri)
    except InvalidURI as error:
        parser.error(str(error))
    settings = {name: value for name, value in vars(args).items() if name not in ("command", "check")}
    try:
        return RunOptions(command=tuple(command), **settings), args.check
    except ValueError as error:
        parser.error(str(error))


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    options, check_only = _parse(parser, argv)
    if not check_only:
        return run(options)
    program = "/bin/sh" if options.shell else options.command[0]
    if shutil.which(program) is None:
        parser.error(f"the command is not found, or not executable: {program}")
    print("numbat-run: arguments ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
