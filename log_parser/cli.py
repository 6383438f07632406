"""``numbat-logs``: CDN access logs to download counts, and the downloads API."""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import signal
import sqlite3
import stat
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import IO

import orjson
import trio
from hypercorn.config import Config
from hypercorn.trio import serve as hypercorn_serve
from libcloud.common.types import LibcloudError

from .api import ANY_ORIGIN, create_app, json_protocol_errors, parse_origin
from .backfill import Backfill, Executor, InProcess, LocalPool, Selection, Summary, interrupt
from .formats import PARSERS
from .formats.jsonlines import FIELDS, parse_field_mapping
from .live import Live, LiveOptions, follow_file, read_stdin, syslog_listener
from .progress import TerminalProgress
from .reading import tally_file
from .records import ParseError
from .scanner import COMPILED_CACHE
from .sources import SourceError, load_credentials, parse_source
from .store import FileRecord, Store, to_day_counts

DEFAULT_DB = "downloads.sqlite"
DEFAULT_LISTEN = "127.0.0.1:3338"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="numbat-logs", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    count = commands.add_parser("count", help="tally log files (plain or compressed) into the downloads store")
    count.add_argument("files", nargs="+", type=Path)
    count.add_argument("--format", default="auto", choices=["auto", *PARSERS])
    count.add_argument("--db", default=DEFAULT_DB, help=f"SQLite downloads store (default {DEFAULT_DB})")
    count.add_argument("--rejects", type=Path, help="write every line that could not be parsed here, with why")
    count.add_argument(
        "--recount", action="store_true", help="count files again even when unchanged since counted (still replacing)"
    )
    _add_json_fields(count)

    live = commands.add_parser("live", help="count downloads as a log is written, into the downloads store")
    source = live.add_mutually_exclusive_group(required=True)
    source.add_argument("--file", type=Path, help="follow this file, across rotation and truncation")
    source.add_argument("--stdin", action="store_true", help="read standard input until it closes")
    source.add_argument("--syslog", metavar="URL", help="listen for syslog: tcp://host:port or udp://host:port")
    live.add_argument("--format", default="auto", choices=["auto", *PARSERS])
    live.add_argument("--db", default=DEFAULT_DB)
    live.add_argument("--flush-interval", type=float, default=5.0, help="seconds between store writes (default 5)")
    live.add_argument("--from-start", action="store_true", help="read the file from its start, not its end")
    live.add_argument(
        "--emit-uri", help="send operational figures to this numbat collector (e.g. udp://127.0.0.1:3333)"
    )
    _add_json_fields(live)

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
    backfill.add_argument("--db", default=DEFAULT_DB)
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

    serve = commands.add_parser("serve", help="the npm-compatible downloads API")
    serve.add_argument("--db", default=DEFAULT_DB)
    serve.add_argument("--listen", default=DEFAULT_LISTEN, help=f"host:port (default {DEFAULT_LISTEN})")
    serve.add_argument(
        "--cors-origin",
        action="append",
        type=_cors_origin,
        help="an origin whose pages may read the answers (scheme://host[:port]); repeatable (default *: any)",
    )
    return parser


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
    for warning in COMPILED_CACHE.warnings:  # numba's cache folder, chosen when the scanner was imported
        print(f"numbat-logs: {warning} ({COMPILED_CACHE.path})", file=sys.stderr)
    # Until a command installs its own handling (and after it removed it), SIGTERM and
    # SIGINT end the process quietly, with status 0: there is nothing to save yet.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _exit_now)
    if args.command == "count":
        return count(args)
    if args.command == "live":
        return live(args)
    if args.command == "backfill":
        return backfill(args)
    return serve(args)


def live(args: argparse.Namespace) -> int:
    options = LiveOptions(
        db=args.db,
        format=args.format,
        flush_interval=args.flush_interval,
        from_start=args.from_start,
        emit_uri=args.emit_uri,
        json_fields=args.json_fields,
    )
    if args.file:
        source = follow_file(args.file, options.poll_interval, options.from_start)
    elif args.stdin:
        source = read_stdin()
    else:
        try:
            source = syslog_listener(args.syslog)
        except ValueError as exc:
            print(f"numbat-logs: {exc}", file=sys.stderr)
            return 2
    trio.run(Live(options).run, source)
    return 0


def count(args: argparse.Namespace) -> int:
    """Exit status 0 when every file was read whole, 1 when any could not be counted, 3
    when all were counted but some compressed file was damaged (counted as far as it could
    be read, the damage named on standard error): cron notices, and the counts are kept."""
    store = Store(args.db)
    rejects = open(args.rejects, "w", encoding="utf-8") if args.rejects else None  # noqa: SIM115
    failed = []
    damaged = []
    try:
        for path in args.files:
            try:
                summary = _count_file(path, store, args, rejects)
            except (OSError, EOFError, ParseError) as exc:
                failed.append(str(path))
                print(f"numbat-logs: {path}: {exc}", file=sys.stderr)
                continue
            # the standard library's encoder: a total of sizes may pass 64 bits, orjson's limit
            print(json.dumps(summary, ensure_ascii=False, separators=(",", ":")))
            if summary.get("damage"):
                damaged.append(str(path))
                print(f"numbat-logs: {path}: damaged: {summary['damage']}", file=sys.stderr)
    finally:
        store.close()
        if rejects is not None:
            rejects.close()
    return 1 if failed else 3 if damaged else 0


def _count_file(path: Path, store: Store, args: argparse.Namespace, rejects: IO[str] | None) -> dict[str, object]:
    """Count one file into the store, replacing its earlier counts, unless it is counted
    already and unchanged; its summary."""
    name, seen = _file_version(path)  # before reading: a change while it is read is seen next time
    if not args.recount and seen is not None and _unchanged(store.file_record(name), seen):
        return {"file": str(path), "already_counted": True}
    tally = tally_file(path, args.format, rejects, args.json_fields)
    day_counts = to_day_counts(tally.downloads.items())
    if seen is None:  # a pipe or a device: nothing to know it by next time
        store.add_live(day_counts)
    else:
        rejected = sum(tally.rejected.values())
        record = dataclasses.replace(
            seen, lines=tally.requests + rejected, downloads=tally.total_downloads, rejected=rejected
        )
        store.replace_file(name, day_counts, record)
    return {
        "file": str(path),
        "format": tally.format,
        "requests": tally.requests,
        "downloads": tally.total_downloads,
        "rejected": dict(tally.rejected),
        "by_status_class": dict(tally.by_status_class),
        "bytes_served": tally.bytes_served,
        "cache_hit_ratio": tally.cache_hit_ratio,
        "compression": tally.compression,
        "damage": tally.damage,
    }


def _file_version(path: Path) -> tuple[str, FileRecord | None]:
    """The name ``count`` knows a file by, the ``file://`` URI of its absolute path with
    symbolic links resolved (a copy or a hard link is another file), and the version it
    has now (size and modification time); None for what is not a regular file."""
    status = os.stat(path)
    name = path.resolve().as_uri()
    return name, FileRecord(status.st_size, status.st_mtime_ns) if stat.S_ISREG(status.st_mode) else None


def _unchanged(record: FileRecord | None, seen: FileRecord) -> bool:
    return record is not None and (record.size, record.mtime_ns) == (seen.size, seen.mtime_ns)


def backfill(args: argparse.Namespace) -> int:
    """Exit status 0 when every selected object was recorded, 1 when any failed (named
    on standard error) or the run was interrupted, 2 for a source that cannot be used, 3
    when none failed but some were damaged (recorded, counted as far as they could be
    read, named on standard error)."""
    if args.since and args.until and args.since > args.until:
        print(f"numbat-logs: --since {args.since} is after --until {args.until}", file=sys.stderr)
        return 2
    try:
        source = parse_source(args.source, load_credentials(args.credentials)).with_prefix(args.prefix)
        source.driver()  # bad options and missing credentials show here, before any work
    except (SourceError, LibcloudError) as exc:
        print(f"numbat-logs: {exc}", file=sys.stderr)
        return 2
    # From here Ctrl-C and SIGTERM stop the run between objects; what is recorded stays.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, interrupt)
    try:
        store = Store(args.db, bulk_writer=True)
    except sqlite3.Error as exc:
        print(f"numbat-logs: {args.db}: {exc}", file=sys.stderr)
        return 2
    try:
        executor = _executor(args)
    except (OSError, ValueError) as exc:
        where = f"the Dask scheduler at {args.scheduler}" if args.scheduler else "a pool of worker processes"
        print(f"numbat-logs: cannot use {where}: {exc}", file=sys.stderr)
        store.close()
        return 2
    progress = None if args.no_progress or not sys.stderr.isatty() else TerminalProgress(sys.stderr)
    job = Backfill(
        source,
        store,
        executor,
        selection=Selection(args.since, args.until),
        format_name=args.format,
        json_fields=args.json_fields,
        progress=progress,
    )
    try:
        summary = job.run()
    except (OSError, LibcloudError) as exc:  # the listing failed: nothing was done
        print(f"numbat-logs: {source.describe()}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # while listing, or a second time while saving the last objects
        print("numbat-logs: interrupted; what the store holds is whole objects: run again to finish", file=sys.stderr)
        return 1
    finally:
        executor.close()
        store.close()
    _report(summary, args.summary)
    return 1 if summary.failed or summary.interrupted else 3 if summary.damaged else 0


def _executor(args: argparse.Namespace) -> Executor:
    if args.scheduler:
        from .cluster import DaskCluster  # noqa: PLC0415 - Dask is optional, loaded only when asked for

        return DaskCluster(args.scheduler, args.connect_timeout)
    return InProcess() if args.workers == 1 else LocalPool(args.workers)


def _report(summary: Summary, json_file: Path | None) -> None:
    """The JSON summary to standard output or ``json_file``; the one-line summary and
    every failed or damaged object to standard error."""
    document = orjson.dumps(summary.to_json(), option=orjson.OPT_INDENT_2).decode()
    if json_file:
        json_file.write_text(document + "\n", encoding="utf-8")
    else:
        print(document)
    print(summary.line(), file=sys.stderr)
    for name, error in sorted(summary.failed.items()):
        print(f"numbat-logs: failed: {name}: {error}", file=sys.stderr)
    for name, damage in sorted(summary.damaged.items()):
        print(f"numbat-logs: damaged: {name}: {damage}", file=sys.stderr)


def _day(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a day (YYYY-MM-DD): {text!r}") from None


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number above 0: {text!r}")
    return int(text)


def serve(args: argparse.Namespace) -> int:
    Store(args.db).close()  # create the schema, so a fresh store answers (empty) at once
    config = Config()
    config.bind = [args.listen]
    config.accesslog = None
    json_protocol_errors()
    app = create_app(args.db, cors_origins=args.cors_origin or [ANY_ORIGIN])
    trio.run(_serve_until_signalled, app, config)
    return 0


async def _serve_until_signalled(app: object, config: Config) -> None:
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:

        async def stop_requested() -> None:
            async for _ in signals:
                return

        await hypercorn_serve(app, config, shutdown_trigger=stop_requested)  # type: ignore[arg-type]


def _cors_origin(text: str) -> str:
    try:
        return parse_origin(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _exit_now(signum: int, frame: object) -> None:
    raise SystemExit(0)


if __name__ == "__main__":
    sys.exit(main())
