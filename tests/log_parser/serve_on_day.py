"""``numbat-logs serve`` whose today is a fixed day, for tests that must not depend on the
wall clock (a run crossing midnight UTC would move the server's today under them):
``python serve_on_day.py YYYY-MM-DD serve --db ... --listen ...``. Everything else is the
real command: its parser, its store, hypercorn, its signals."""

from __future__ import annotations

import datetime as dt
import sys

from log_parser._commands import serve
from log_parser.cli import build_parser


def main(argv: list[str]) -> int:
    day = dt.date.fromisoformat(argv[0])
    args = build_parser().parse_args(argv[1:])
    assert args.command == "serve", "serve_on_day runs the serve command only"
    return serve.run(args, today=lambda: day)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
