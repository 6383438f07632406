"""``numbat-emit``: send one metric from a shell script or a cron job."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from ._client import Emitter
from ._uri import InvalidURI
from .event import Scalar

DEFAULT_URI = "udp://127.0.0.1:3333"


def parse_scalar(text: str) -> Scalar:
    """``42`` and ``4.2`` are numbers, ``true``/``false`` booleans, ``null`` None, the rest text."""
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered == "null":
        return None
    for number in (int, float):
        try:
            return number(text)
        except ValueError:
            pass
    return text


def parse_field(text: str) -> tuple[str, Scalar]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"fields are key=value, got {text!r}")
    return key, parse_scalar(value)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="numbat-emit",
        description="Send one metric event to a numbat collector.",
        epilog="example: numbat-emit --app backup --uri tcp://127.0.0.1:3333 job.duration 412 status=ok",
    )
    parser.add_argument(
        "--uri",
        default=os.environ.get("NUMBAT_URI", DEFAULT_URI),
        help=f"collector URI (udp, tcp, unix, socket, statsd, http, https); default $NUMBAT_URI or {DEFAULT_URI}",
    )
    parser.add_argument(
        "--app",
        default=os.environ.get("NUMBAT_APP"),
        help="name of the sending service, prefixed to the metric name; default $NUMBAT_APP",
    )
    parser.add_argument("--node", default=os.environ.get("NUMBAT_NODE"), help="node name; default $NUMBAT_NODE")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for delivery (default 5)")
    parser.add_argument("name", help="metric name")
    parser.add_argument(
        "rest", nargs="*", metavar="[VALUE] [key=value ...]", help="a numeric value (default 1), then extra fields"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.app:
        parser.error("--app (or $NUMBAT_APP) is required")
    rest = list(args.rest)
    value: Scalar = None
    if rest and "=" not in rest[0]:
        value = parse_scalar(rest.pop(0))
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            parser.error(f"VALUE must be a number, got {args.rest[0]!r}")
    try:
        fields = dict(parse_field(item) for item in rest)
    except argparse.ArgumentTypeError as exc:
        parser.error(str(exc))
    try:
        emitter = Emitter(args.uri, app=args.app, node=args.node)
    except (InvalidURI, ValueError) as exc:
        parser.error(str(exc))
    emitter.metric(args.name, value, **fields)
    delivered = emitter.close(timeout=args.timeout)
    stats = emitter.stats()
    if stats.invalid:
        print(f"numbat-emit: {args.name!r} is not a usable metric name", file=sys.stderr)
        return 2
    if not delivered or stats.lost:
        print(f"numbat-emit: not delivered to {args.uri}: {stats.last_error or 'timed out'}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
