"""``numbat-logs``: CDN access logs to download counts, and the downloads API."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import orjson
import trio
from hypercorn.config import Config
from hypercorn.trio import serve as hypercorn_serve

from .api import create_app
from .formats import PARSERS
from .reading import tally_file
from .records import ParseError
from .store import Store, to_day_counts

DEFAULT_DB = "downloads.sqlite"
DEFAULT_LISTEN = "127.0.0.1:3338"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="numbat-logs", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    count = commands.add_parser("count", help="tally log files (gzip or not) into the downloads store")
    count.add_argument("files", nargs="+", type=Path)
    count.add_argument("--format", default="auto", choices=["auto", *PARSERS])
    count.add_argument("--db", default=DEFAULT_DB, help=f"SQLite downloads store (default {DEFAULT_DB})")
    count.add_argument("--rejects", type=Path, help="write every line that could not be parsed here, with why")

    serve = commands.add_parser("serve", help="the npm-compatible downloads API")
    serve.add_argument("--db", default=DEFAULT_DB)
    serve.add_argument("--listen", default=DEFAULT_LISTEN, help=f"host:port (default {DEFAULT_LISTEN})")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "count":
        return count(args)
    return serve(args)


def count(args: argparse.Namespace) -> int:
    store = Store(args.db)
    rejects = open(args.rejects, "w", encoding="utf-8") if args.rejects else None  # noqa: SIM115
    failed = []
    try:
        for path in args.files:
            try:
                tally = tally_file(path, args.format, rejects)
            except (OSError, EOFError, ParseError) as exc:
                failed.append(str(path))
                print(f"numbat-logs: {path}: {exc}", file=sys.stderr)
                continue
            store.add_live(to_day_counts(tally.downloads.items()))
            summary = {
                "file": str(path),
                "requests": tally.requests,
                "downloads": tally.total_downloads,
                "rejected": dict(tally.rejected),
                "by_status_class": dict(tally.by_status_class),
                "bytes_served": tally.bytes_served,
                "cache_hit_ratio": tally.cache_hit_ratio,
            }
            print(orjson.dumps(summary).decode())
    finally:
        store.close()
        if rejects is not None:
            rejects.close()
    return 1 if failed else 0


def serve(args: argparse.Namespace) -> int:
    Store(args.db).close()  # create the schema, so a fresh store answers (empty) at once
    config = Config()
    config.bind = [args.listen]
    config.accesslog = None
    trio.run(hypercorn_serve, create_app(args.db), config)  # type: ignore[arg-type]
    return 0


if __name__ == "__main__":
    sys.exit(main())
