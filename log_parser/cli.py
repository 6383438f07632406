"""``numbat-logs``: CDN access logs to download counts, and the downloads API.

Strategy: this module reads the command line and nothing more; each subcommand lives in
a module of :mod:`log_parser._commands`, imported only when that subcommand runs, so that
``count`` never loads trio, hypercorn, Starlette or libcloud, and ``serve`` never loads
numba. The arguments are checked here (exit status 2 for a bad one) with the standard
library, the core's format names and the emitter's URIs alone; ``live --check`` and ``serve
--check`` stop there, saying the arguments are good (exit status 0): what a deployment runs
before it restarts a service with new ones (deploy/ansible/).
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import logging
import math
import os
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from ._cors import parse_origin
from ._syslog_address import parse_syslog_url
from ._syslog_limits import ListenerLimits
from .core.formats import PARSERS, parse_field_mapping
from .core.formats._jsonlines import FIELDS

DEFAULT_DB = "downloads.sqlite"
#: The environment variable that names the store when ``--db`` does not (a systemd
#: unit's ``EnvironmentFile=``, which keeps a URL's password off the command line).
DB_VARIABLE = "NUMBAT_LOGS_DB"
DB_HELP = (
    "the downloads store: a SQLite file, or postgresql://user@host:port/database "
    f"(default ${DB_VARIABLE}, else {DEFAULT_DB})"
)
DEFAULT_LISTEN = "127.0.0.1:3338"
#: The module that runs each subcommand: ``run(args) -> exit status``.
COMMANDS = {
    "count": "log_parser._commands.count",
    "live": "log_parser._commands.live",
    "backfill": "log_parser._commands.backfill",
    "serve": "log_parser._commands.serve",
}


def _cores() -> int:
    """The cores this process may run on (its CPU affinity, where the system has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="numbat-logs", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    count = commands.add_parser("count", help="tally log files (plain or compressed) into the downloads store")
    count.add_argument("files", nargs="+", type=Path)
    count.add_argument("--format", default="auto", choices=["auto", *PARSERS])
    _add_db(count)
    count.add_argument("--rejects", type=Path, help="write every line that could not be parsed here, with why")
    count.add_argument(
        "--recount", action="store_true", help="count files again even when unchanged since counted (still replacing)"
    )
    count.add_argument(
        "--threads",
        type=_positive,
        default=_cores(),
        help=f"combined logs: chunks scanned side by side (default {_cores()}, the cores this process may use)",
    )
    _add_json_fields(count)

    live = commands.add_parser("live", help="count downloads as a log is written, into the downloads store")
    source = live.add_mutually_exclusive_group(required=True)
    source.add_argument("--file", type=Path, help="follow this file, across rotation and truncation")
    source.add_argument("--stdin", action="store_true", help="read standard input until it closes")
    source.add_argument(
        "--syslog",
        metavar="URL",
        type=_syslog_url,
        help="listen for syslog: tcp://host:port or udp://host:port (IPv6: [::1])",
    )
    live.add_argument("--format", default="auto", choices=["auto", *PARSERS])
    _add_db(live)
    live.add_argument("--flush-interval", type=float, default=5.0, help="seconds between store writes (default 5)")
    live.add_argument("--from-start", action="store_true", help="read the file from its start, not its end")
    live.add_argument(
        "--emit-uri",
        type=_emit_uri,
        help="send operational figures to this numbat collector (e.g. udp://127.0.0.1:3333)",
    )
    bounds = ListenerLimits()
    live.add_argument(
        "--max-connections",
        type=_positive,
        default=bounds.max_connections,
        help=f"syslog over TCP: connections open at once; more are closed at once (default {bounds.max_connections})",
    )
    live.add_argument(
        "--idle-timeout",
        type=_seconds,
        default=bounds.idle_timeout,
        help=f"syslog over TCP: seconds a connection may send nothing before it is closed "
        f"(default {bounds.idle_timeout:g})",
    )
    live.add_argument(
        "--max-line-bytes",
        type=_positive,
        default=bounds.max_line_bytes,
        help=f"syslog: longer messages are refused, counted as 'line too long' (default {bounds.max_line_bytes})",
    )
    _add_json_fields(live)
    _add_check(live)

    backfill = commands.add_parser(
        "backfill", help="re-count historical log objects from object storage into the downloads store"
    )
    backfill.add_argument(
        "source", help="a folder, file:///folder, s3://bucket/prefix[?endpoint=URL&region=R] or libcloud+PROVIDER://..."
    )
    backfill.add_argument("--prefix", default="", help="only objects whose names start with this (after the URL's)")
    backfill.add_argument("--since", type=_day, help="first day (YYYY-MM-DD) to count, included")
    backfill.add_argument("--until", type=_day, help="last day (YYYY-MM-DD) to count, included")
    backfill.add_argument("--format", default="auto", choices=["auto", *PARSERS])
    _add_db(backfill)
    where = backfill.add_mutually_exclusive_group()
    where.add_argument("--workers", type=_positive, default=os.cpu_count() or 1, help="local worker processes")
    where.add_argument("--scheduler", metavar="ADDRESS", help="run on this Dask cluster (tcp://host:port)")
    backfill.add_argument(
        "--connect-timeout", type=float, default=30.0, help="seconds to reach the Dask scheduler (default 30)"
    )
    backfill.add_argument("--credentials", type=Path, help="TOML file with key, secret (and token) for the store")
    backfill.add_argument("--summary", type=Path, help="write the JSON summary here instead of to standard output")
    backfill.add_argument("--no-progress", action="store_true", help="no progress bar even on a terminal")
    _add_json_fields(backfill)

    serve = commands.add_parser("serve", help="the npm-compatible downloads API, the downloads page and badges")
    _add_db(serve)
    serve.add_argument(
        "--listen", default=DEFAULT_LISTEN, type=_listen_address, help=f"host:port (default {DEFAULT_LISTEN})"
    )
    serve.add_argument(
        "--cors-origin",
        action="append",
        type=_cors_origin,
        help="an origin whose pages may read the answers (scheme://host[:port]); repeatable (default *: any)",
    )
    serve.add_argument(
        "--max-age",
        type=_whole_seconds,
        default=300,
        help="seconds caches may keep an answer of past days (Cache-Control; default 300)",
    )
    serve.add_argument(
        "--live-max-age",
        type=_whole_seconds,
        default=30,
        help="seconds caches may keep an answer that includes today, and the page (default 30)",
    )
    serve.add_argument(
        "--max-range-days",
        type=_range_days,
        default=3660,
        help="longest range answered when the store holds data for all of it (default 3660; npm's 548 otherwise)",
    )
    serve.add_argument(
        "--page-refresh",
        type=_positive,
        default=30,
        help="seconds between the page's updates of today's live count (default 30)",
    )
    _add_check(serve)
    return parser


def _add_check(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--check", action="store_true", help="check the arguments, say whether they are good, and exit (0 or 2)"
    )


def _whole_seconds(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"must be a whole number of seconds, 0 or more: {text!r}")
    return int(text)


def _range_days(text: str) -> int:
    if not text.isdigit() or int(text) < 548:
        raise argparse.ArgumentTypeError(f"must be a whole number of days, at least npm's 548: {text!r}")
    return int(text)


def _add_db(command: argparse.ArgumentParser) -> None:
    command.add_argument("--db", default=os.environ.get(DB_VARIABLE) or DEFAULT_DB, help=DB_HELP)


def _add_json_fields(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--json-field",
        dest="json_fields",
        metavar="FIELD=KEY",
        action="append",
        default=[],
        help=f"where JSON logs keep one of our fields ({', '.join(FIELDS)}), when not under a usual key name: "
        "time=date_time, path=request.url (dotted: nested); repeatable",
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command != "serve":
        try:
            args.json_fields = parse_field_mapping(args.json_fields)
        except ValueError as exc:
            parser.error(f"--json-field {exc}")
    if getattr(args, "check", False):
        print(f"numbat-logs {args.command}: arguments ok")
        return 0
    _say_warnings_on_stderr()
    # Until a command installs its own handling (and after it removed it), SIGTERM and
    # SIGINT end the process quietly, with status 0: there is nothing to save yet.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _exit_now)
    command = importlib.import_module(COMMANDS[args.command])
    status: int = command.run(args)
    return status


def _say_warnings_on_stderr() -> None:
    """The package's warnings (numba's cache folder when the scanner loads, a small UDP
    receive buffer) as ``numbat-logs: ...`` lines on standard error."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("numbat-logs: %(message)s"))
    logger = logging.getLogger("log_parser")
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING)
    logger.propagate = False


def _day(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a day (YYYY-MM-DD): {text!r}") from None


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number above 0: {text!r}")
    return int(text)


def _seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds > 0):
        raise argparse.ArgumentTypeError(f"must be a number of seconds above 0: {text!r}")
    return seconds


def _checked(text: str, check: Callable[[str], object], refusal: type[Exception]) -> str:
    """``text`` when ``check`` takes it; its refusal as argparse's, which names the option."""
    try:
        check(text)
    except refusal as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _syslog_url(text: str) -> str:
    return _checked(text, parse_syslog_url, ValueError)


def _emit_uri(text: str) -> str:
    from emitter import InvalidURI, parse_uri  # noqa: PLC0415 - count and serve never load the emitter

    return _checked(text, parse_uri, InvalidURI)


def _listen_address(text: str) -> str:
    """What hypercorn binds: ``host:port`` (IPv6 in brackets), ``unix:PATH`` or ``fd://N``."""
    if text.startswith("unix:"):
        if len(text) > len("unix:"):
            return text
    elif text.startswith("fd://"):
        if text[len("fd://") :].isdigit():
            return text
    else:
        host, _, port = text.rpartition(":")
        bare = host[1:-1] if host.startswith("[") and host.endswith("]") else host
        if bare and "[" not in bare and port.isascii() and port.isdigit() and int(port) <= 65535:
            return text
    raise argparse.ArgumentTypeError(f"expected host:port, unix:PATH or fd://N: {text!r}")


def _cors_origin(text: str) -> str:
    try:
        return parse_origin(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _exit_now(signum: int, frame: object) -> None:
    raise SystemExit(0)


if __name__ == "__main__":
    sys.exit(main())
