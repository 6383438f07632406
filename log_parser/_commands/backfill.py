"""``numbat-logs backfill SOURCE``: the backfill job with the executor the arguments name.

Strategy: everything that can be refused is refused before any work, with exit status 2
(a source, credentials, store or scheduler that cannot be used); from then on Ctrl-C and
SIGTERM stop the run between objects, and what the store holds is whole objects. The
summary goes to standard output (or ``--summary``), the failed and damaged objects by name
to standard error.
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

import orjson
from libcloud.common.types import LibcloudError

from ..backfill import (
    Backfill,
    Executor,
    InProcess,
    LocalPool,
    Selection,
    SourceError,
    Summary,
    TerminalProgress,
    interrupt,
    load_credentials,
    parse_source,
)
from ..core import warm_for
from ..store import StoreError, open_store


def run(args: argparse.Namespace) -> int:
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
        store = open_store(args.db, bulk_writer=True)
    except StoreError as exc:
        print(f"numbat-logs: {exc}", file=sys.stderr)
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
        from ..backfill._dask import DaskCluster  # noqa: PLC0415 - Dask is optional, loaded only when asked for

        return DaskCluster(args.scheduler, args.connect_timeout)
    # A long run: the compiled scanner is loaded now, before the fork (every worker then has it)
    warm_for(args.format)
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
