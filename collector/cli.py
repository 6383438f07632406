"""``numbatd``: the collector daemon's command line.

It reads the configuration (handing the loader the sink types), sets up the log, chooses
numba's cache folder before anything can import numba (an InfluxDB sink's compiled
transcoder), and runs the :class:`~collector.Daemon` until SIGTERM. Exit status: 0 after
a clean stop, 1 when the daemon cannot run, 2 for a bad configuration. ``numbatd silence
...`` is the alerts sink's silences through its API (_silence_cli.py).
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

import trio

from jit import use_compiled_cache

from ._daemon import Daemon
from ._silence_cli import main as silence_main
from .config import ConfigError, default_config, load_config
from .observe import log, setup_logging
from .sinks import SINK_TYPES
from .sinks.influxdb import COMPILED_MODULE_DIR


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="numbatd",
        description="numbat collector: receives metric events and fans them out to sinks. "
        "With no arguments: numbat JSON on udp and tcp 127.0.0.1:3333, printed to the console.",
    )
    parser.add_argument("--config", type=Path, help="TOML configuration file (reloaded on SIGHUP)")
    parser.add_argument("--check-config", type=Path, metavar="FILE", help="validate FILE and exit")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["silence"]:  # the alerts sink's silences, through its API
        return silence_main(argv[1:])
    args = build_parser().parse_args(argv)
    if args.check_config:
        try:
            config = load_config(args.check_config, SINK_TYPES)
        except ConfigError as exc:
            print(f"numbatd: {exc}", file=sys.stderr)
            return 2
        counts = f"{len(config.listeners)} listeners, {len(config.sinks)} sinks"
        if config.aggregations:
            counts += f", {len(config.aggregations)} aggregations"
        print(f"{args.check_config}: ok ({counts})")
        return 0
    try:
        config = load_config(args.config, SINK_TYPES) if args.config else default_config(SINK_TYPES)
    except ConfigError as exc:
        print(f"numbatd: {exc}", file=sys.stderr)
        return 2
    setup_logging(config.log.level)
    # before anything imports numba (an InfluxDB sink's transcoder): see jit's _cache
    compiled_cache = use_compiled_cache(COMPILED_MODULE_DIR, config.state_dir)
    for warning in compiled_cache.warnings:
        log.warning(warning, extra={"numba_cache_dir": str(compiled_cache.path)})
    # Outside the daemon's own signal handling (before it starts, after it stopped)
    # SIGTERM and SIGINT mean "stop now", quietly: the daemon has nothing left to drain.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _exit_now)
    try:
        trio.run(Daemon(config, args.config).run)
    except Exception as exc:  # trio groups what the tasks raised; name each
        for error in _leaves(exc):
            log.error("numbatd cannot run", extra={"error": f"{type(error).__name__}: {error}"})
        return 1
    return 0


def _exit_now(signum: int, frame: object) -> None:
    raise SystemExit(0)


def _leaves(error: BaseException) -> list[BaseException]:
    if isinstance(error, BaseExceptionGroup):
        return [leaf for inner in error.exceptions for leaf in _leaves(inner)]
    return [error]


if __name__ == "__main__":
    sys.exit(main())
