"""Live mode: following files across rotation, syslog framing, and the whole command
against a reference count over the same lines, into either store."""

from __future__ import annotations

import datetime as dt
import os
import random
import signal
import socket
import subprocess
import sys
import time

import trio
from hypothesis import given
from hypothesis import strategies as st

from log_parser import open_store
from log_parser.core import Tally
from log_parser.core._counting import tally_lines
from log_parser.core._syslog_framing import SyslogFramer
from log_parser.core.formats import CombinedParser
from log_parser.live import FileFollower, Live, LiveOptions
from log_parser.live._job import DETECT_AFTER, MAX_UNDETECTED

from ..waiting import wait_for
from .stores import store_ready, stored_total


def test_follower_reads_appends_rotation_and_truncation(tmp_path) -> None:
    path = tmp_path / "access.log"
    path.write_bytes(b"old line, before we started\n")
    follower = FileFollower(path)
    assert follower.poll() == []  # starts at the end, as tail -F
    with open(path, "ab") as log:
        log.write(b"one\ntw")
    assert follower.poll() == [b"one"]
    with open(path, "ab") as log:
        log.write(b"o\nthree\n")
    assert follower.poll() == [b"two", b"three"]
    with open(path, "ab") as log:
        log.write(b"last of the old file\n")
    os.rename(path, tmp_path / "access.log.1")  # logrotate
    path.write_bytes(b"first of the new file\n")
    assert follower.poll() == [b"last of the old file", b"first of the new file"]
    path.write_bytes(b"")  # copytruncate
    assert follower.poll() == []
    with open(path, "ab") as log:
        log.write(b"after truncation\n")
    assert follower.poll() == [b"after truncation"]
    follower.close()


def frame(message: bytes, octets: bool) -> bytes:
    return b"%d %s" % (len(message), message) if octets else message + b"\n"


#: Messages, each octet-counted or newline-framed (none starts with a digit: a newline-framed
#: one would read as a count), and where the stream they make is cut into pieces.
FRAMED_MESSAGES = st.lists(
    st.tuples(
        st.binary(min_size=1, max_size=80).map(lambda b: b.replace(b"\n", b" ").lstrip(b"0123456789") or b"x"),
        st.booleans(),
    ),
    max_size=20,
)
CUTS = st.lists(st.integers(min_value=1, max_value=40), max_size=30)


def feed_in_pieces(framer: SyslogFramer, messages: list[tuple[bytes, bool]], cuts: list[int]) -> list[bytes]:
    """What ``framer`` gives for the framed ``messages``, fed in pieces ``cuts`` long."""
    stream = b"".join(frame(m, octets) for m, octets in messages)
    got = []
    position = 0
    for cut in cuts:
        got += framer.feed(stream[position : position + cut])
        position += cut
    return got + framer.feed(stream[position:])


@given(FRAMED_MESSAGES, CUTS)
def test_syslog_framing_survives_any_chunking(messages, cuts) -> None:
    got = feed_in_pieces(SyslogFramer(), messages, cuts)
    # octet-counted messages come back exactly; a newline-framed one loses a trailing CR,
    # and one left empty is no message
    expected = [m if octets else m.rstrip(b"\r") for m, octets in messages if octets or m.rstrip(b"\r")]
    assert got == expected


@given(FRAMED_MESSAGES, CUTS)
def test_syslog_framing_refuses_each_over_long_message_once_whatever_the_chunking(messages, cuts) -> None:
    bound = 40
    framer = SyslogFramer(max_message=bound)
    got = feed_in_pieces(framer, messages, cuts)

    def too_long(message: bytes, octets: bool) -> bool:  # a line's length counts no CR before its LF
        return len(message) - (not octets and message.endswith(b"\r")) > bound

    kept = [m if octets else m.rstrip(b"\r") for m, octets in messages if not too_long(m, octets)]
    assert got == [m for m in kept if m]
    assert framer.refused == sum(too_long(m, octets) for m, octets in messages)


@given(st.binary(max_size=400))
def test_syslog_framing_never_raises(data) -> None:
    framer = SyslogFramer(max_message=100)
    for i in range(0, len(data), 7):
        framer.feed(data[i : i + 7])


def log_line(minute: int, path: str, status: int = 200) -> str:
    moment = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC) + dt.timedelta(minutes=minute)
    return f'203.0.113.9 - - [{moment.strftime("%d/%b/%Y:%H:%M:%S")} +0000] "GET {path} HTTP/1.1" {status} 10 "-" "npm"'


def free_port(kind: socket.SocketKind = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_live(*arguments: str) -> subprocess.Popen[bytes]:
    """``numbat-logs live ARGUMENTS`` as a process of its own (stop it with SIGTERM, by
    its PID); its standard error kept for the report of a failed exit."""
    return subprocess.Popen(
        [sys.executable, "-m", "log_parser", "live", *arguments], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )


def stored_downloads(db: str, package: str | None = None) -> int:
    """Downloads in the store over the days ``log_line`` writes (all packages for None);
    0 while the store is not yet created."""
    return stored_total(db, package, dt.date(2024, 5, 1), dt.date(2024, 5, 3))


def test_live_counts_combined_messages_holding_a_newline_as_the_parser_does(tmp_path) -> None:
    """An octet-counted syslog message may hold a newline: the parser reads it as one
    line (its expression matches at the start), so the bulk counter must not split it."""
    good = log_line(1, "/lodash/-/lodash-4.17.21.tgz").encode()
    batches = [[good, good + b"\nnot a log line", good], [good, b"not a log line", b""]]
    live = Live(LiveOptions(db=str(tmp_path / "d.sqlite"), format="combined"))
    reference = Tally()
    for messages in batches:
        trio.run(live.handle_lines, messages)
        tally_lines([m.decode() for m in messages], CombinedParser(), reference)
    got = live.tally
    assert (got.downloads, got.requests, got.rejected) == (reference.downloads, reference.requests, reference.rejected)
    assert (got.requests, got.total_downloads, sum(got.rejected.values())) == (4, 4, 1)
    live.store.close()


def test_live_follows_a_rotated_log_and_matches_a_reference_count(tmp_path, store_location: str) -> None:
    rnd = random.Random(5)
    paths = [
        "/lodash/-/lodash-4.17.21.tgz",
        "/@babel/core/-/core-7.24.0.tgz",
        "/lodash",
        "/express/-/express-4.19.2.tgz",
    ]
    lines = [
        log_line(rnd.randrange(3000), rnd.choice(paths), rnd.choice([200, 200, 200, 304, 404])) for _ in range(3000)
    ]
    log, db = tmp_path / "access.log", store_location
    log.write_text("")

    live = start_live("--file", str(log), "--format", "combined", "--db", db, "--flush-interval", "0.2", "--from-start")
    try:
        assert wait_for(lambda: store_ready(db), 20)
        with open(log, "a") as out:
            for line in lines[:1000]:
                out.write(line + "\n")
        assert wait_for(lambda: stored_downloads(db) > 0, 20)  # it is following the first file
        with open(log, "a") as out:
            out.write(lines[0] + "\n")  # written just before the rotation: still counted
        lines.append(lines[0])
        os.rename(log, tmp_path / "access.log.1")
        with open(log, "w") as out:
            for line in lines[1000:2000]:
                out.write(line + "\n")
        with open(log, "a") as out:
            for line in lines[2000:]:
                out.write(line + "\n")
        reference = Tally()
        parser = CombinedParser()
        for line in lines:
            reference.add(parser.parse(line))
        assert wait_for(lambda: stored_downloads(db) == reference.total_downloads, 20), (
            stored_downloads(db),
            reference.total_downloads,
        )
    finally:
        live.send_signal(signal.SIGTERM)
        assert live.wait(20) == 0, live.stderr.read()  # type: ignore[union-attr]
    store = open_store(db, read_only=True)
    per_package: dict[str, int] = {}
    for (package, _version, _minute), n in reference.downloads.items():
        per_package[package] = per_package.get(package, 0) + n
    for package, n in per_package.items():
        assert sum(store.daily(package, dt.date(2024, 5, 1), dt.date(2024, 5, 3)).values()) == n
    store.close()


def test_live_syslog_over_tcp_with_octet_counting_and_a_flush_at_sigterm(store_location: str) -> None:
    db = store_location
    port = free_port()
    # only the SIGTERM flush can write
    live = start_live(
        "--syslog", f"tcp://127.0.0.1:{port}", "--format", "fastly", "--db", db, "--flush-interval", "3600"
    )

    def connect() -> socket.socket | None:
        try:
            return socket.create_connection(("127.0.0.1", port), timeout=1)
        except OSError:
            return None

    assert wait_for(lambda: (s := connect()) is not None and (s.close() or True), 20)
    messages = [
        f"<134>2024-05-01T12:00:07Z cache-ams21 registry[1]: {log_line(i, '/lodash/-/lodash-4.17.21.tgz')}".encode()
        for i in range(50)
    ]
    with socket.create_connection(("127.0.0.1", port)) as conn:
        conn.sendall(b"".join(b"%d %s" % (len(m), m) for m in messages[:25]))
        conn.sendall(b"".join(m + b"\n" for m in messages[25:]))
    time.sleep(1.0)  # let it read what was sent; the count must come from the SIGTERM flush
    live.send_signal(signal.SIGTERM)
    assert live.wait(20) == 0, live.stderr.read()  # type: ignore[union-attr]
    assert stored_total(db, "lodash", dt.date(2024, 5, 1), dt.date(2024, 5, 1)) == 50


def test_one_datagram_out_of_range_does_not_stop_live_syslog_over_udp(tmp_path) -> None:
    """Anyone who can reach the syslog port can send a time past 9999: it is refused by
    reason, and the good lines sent beside it, before and after, are all counted."""
    db = tmp_path / "downloads.sqlite"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    live = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "log_parser",
            "live",
            "--syslog",
            f"udp://127.0.0.1:{port}",
            "--format",
            "fastly",
            "--db",
            str(db),
            "--flush-interval",
            "0.2",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )

    def message(line: str) -> bytes:
        return f"<134>2024-05-01T12:00:07Z cache-ams21 registry[1]: {line}".encode()

    def stored(package: str) -> int:
        return stored_total(str(db), package, dt.date(2024, 5, 1), dt.date(2024, 5, 1))

    good = message(log_line(1, "/lodash/-/lodash-4.17.21.tgz"))
    far = message(
        log_line(1, "/lodash/-/lodash-4.17.21.tgz").replace("01/May/2024:12:01:00 +0000", "31/Dec/9999:23:59:59 -1200")
    )
    huge = message(log_line(1, "/lodash/-/lodash-4.17.21.tgz").replace(" 200 10 ", " 200 99999999999999999999999 "))
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            probe_line = message(log_line(0, "/probe/-/probe-1.0.0.tgz"))
            assert wait_for(lambda: sender.sendto(probe_line, ("127.0.0.1", port)) and stored("probe") > 0, 20)
            sender.sendto(good, ("127.0.0.1", port))
            sender.sendto(far, ("127.0.0.1", port))
            sender.sendto(b"\n".join([good, far, huge, good]), ("127.0.0.1", port))
            sender.sendto(good, ("127.0.0.1", port))
        assert wait_for(lambda: stored("lodash") == 4, 20), stored("lodash")
        assert live.poll() is None  # still running
    finally:
        live.send_signal(signal.SIGTERM)
        assert live.wait(20) == 0, live.stderr.read()  # type: ignore[union-attr]


def test_live_auto_detection_holds_a_bounded_number_of_lines(tmp_path) -> None:
    """With --format auto, lines no format reads are held only up to a bound, then
    refused by reason; lines that follow in a known format are then counted."""
    live = Live(LiveOptions(db=str(tmp_path / "d.sqlite")))
    garbage = [b"no format reads this line %d" % i for i in range(MAX_UNDETECTED + 5)]
    for start in range(0, len(garbage), 100):
        trio.run(live.handle_lines, garbage[start : start + 100])
    assert live.counter is None
    assert len(live._pending) < MAX_UNDETECTED
    assert live.tally.rejected["cannot tell the log format"] >= MAX_UNDETECTED
    good = [log_line(i % 60, "/lodash/-/lodash-4.17.21.tgz").encode() for i in range(DETECT_AFTER)]
    trio.run(live.handle_lines, good)
    trio.run(live.flush)
    assert live.counter is not None
    assert live.counter.format == "combined"
    live.store.close()
    assert stored_total(str(tmp_path / "d.sqlite"), "lodash", dt.date(2024, 5, 1), dt.date(2024, 5, 1)) == DETECT_AFTER
