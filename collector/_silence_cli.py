"""``numbatd silence add|list|remove``: the alerts sink's silences from the command line,
through its HTTP API (``--url``, default http://127.0.0.1:9095). Standard library only
(urllib): it talks to a running numbatd and loads nothing of it. Exit status: 0 done, 1
the API refused or could not be reached (its message printed), 2 bad arguments.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence

DEFAULT_URL = "http://127.0.0.1:9095"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="numbatd silence", description="the alerts sink's silences")
    parser.add_argument("--url", default=DEFAULT_URL, help=f"the alerts sink's API (default {DEFAULT_URL})")
    commands = parser.add_subparsers(dest="command", required=True)
    add = commands.add_parser("add", help="silence the incidents whose key matches a glob")
    add.add_argument("match", help="a glob on incident keys, such as 'beats/web/*'")
    ends = add.add_mutually_exclusive_group(required=True)
    ends.add_argument("--duration", type=float, help="seconds from now")
    ends.add_argument("--ends", help="an ISO 8601 date and time (with its offset)")
    add.add_argument("--comment", default="", help="why")
    commands.add_parser("list", help="the silences in force (JSON, one per line)")
    remove = commands.add_parser("remove", help="end a silence now")
    remove.add_argument("id")
    return parser


def main(argv: Sequence[str]) -> int:
    args = build_parser().parse_args(argv)
    base = args.url.rstrip("/")
    if args.command == "add":
        body: dict[str, object] = {"match": args.match, "comment": args.comment}
        if args.duration is not None:
            body["duration"] = args.duration
        else:
            try:
                when = datetime.datetime.fromisoformat(args.ends)
            except ValueError:
                print(f"numbatd silence: --ends {args.ends!r} is not an ISO 8601 date", file=sys.stderr)
                return 2
            if when.tzinfo is None:
                print("numbatd silence: --ends needs an offset (Z or +01:00)", file=sys.stderr)
                return 2
            body["ends_ms"] = round(when.timestamp() * 1000)
        status, answer = _call("POST", f"{base}/silences", body)
    elif args.command == "list":
        status, answer = _call("GET", f"{base}/silences")
        if status == 200 and isinstance(answer, list):
            for silence in answer:
                print(json.dumps(silence, sort_keys=True))
            return 0
    else:
        status, answer = _call("DELETE", f"{base}/silences/{urllib.parse.quote(args.id, safe='')}")
        if status == 204:
            print(f"removed {args.id}")
            return 0
    if status == 201:
        print(json.dumps(answer, sort_keys=True))
        return 0
    error = answer.get("error") if isinstance(answer, dict) else answer
    print(f"numbatd silence: {status or 'no answer'}: {error}", file=sys.stderr)
    return 1


def _call(method: str, url: str, body: object | None = None) -> tuple[int, object]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as exc:
        try:
            return exc.code, json.loads(exc.read() or b"null")
        except ValueError:
            return exc.code, exc.reason
    except (OSError, ValueError) as exc:
        return 0, str(exc)
