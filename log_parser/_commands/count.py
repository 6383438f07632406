"""``numbat-logs count FILE...``: count log files into the downloads store, once each.

Strategy: a file is known by the ``file://`` URI of its resolved path and its version by
its size and modification time, taken before it is read: an unchanged file is skipped,
a changed one is read again whole and its counts replace its earlier ones, in one
transaction with its record. A pipe or a device has no version: its counts are added.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import stat
import sys
from pathlib import Path
from typing import IO

from .._reading import tally_file
from ..core import ParseError
from ..core._counting import DAY
from ..store import FileRecord, Store, StoreError, open_store, to_day_counts


def run(args: argparse.Namespace) -> int:
    """Exit status 0 when every file was read whole, 1 when any could not be counted, 2
    for a store that cannot be opened, 3 when all were counted but some compressed file
    was damaged (counted as far as it could be read, the damage named on standard error):
    cron notices, and the counts are kept."""
    try:
        store = open_store(args.db)
    except StoreError as exc:
        print(f"numbat-logs: {exc}", file=sys.stderr)
        return 2
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
    tally = tally_file(
        path, args.format, rejects, args.json_fields, threads=args.threads, resolution=DAY
    )  # the store keeps days
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
