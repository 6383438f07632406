"""The Graphite sink against a real carbon-cache: events through the real numbatd into
carbon's plaintext and pickle receivers, read back from the whisper files carbon wrote,
every point at its second with its value and nothing else; carbon stopped mid-stream and
started again loses nothing; an aggregation's summaries land under statsd's paths; names
carbon cannot take are cleaned, values that are no number counted.

Carbon starts in a second or two: one serves the tests of this module that leave it
running, each writing under a prefix of its own.
"""

from __future__ import annotations

import math
import socket
import threading
import time
from collections.abc import Iterator

import orjson
import pytest

import emitter

from ..waiting import wait_for
from .carbon import Carbon
from .numbatd import free_port
from .test_aggregate_daemon import statsd_listener, wait_for_next_boundary

FAST = {"backoff_base": 0.01, "backoff_cap": 0.2}


@pytest.fixture(scope="module")
def carbon(tmp_path_factory) -> Iterator[Carbon]:
    """One carbon-cache for the tests that leave it running (stopped by PID afterwards)."""
    server = Carbon(tmp_path_factory.mktemp("carbon")).start()
    yield server
    server.stop()


@pytest.fixture
def own_carbon(tmp_path) -> Iterator[Carbon]:
    """A carbon-cache of the test's own, which it may stop and start."""
    (tmp_path / "carbon").mkdir()
    server = Carbon(tmp_path / "carbon").start()
    yield server
    server.stop()


def graphite_sink(name: str, carbon: Carbon, protocol: str = "plaintext", extra: str = "") -> str:
    return f"""
[[sinks]]
type = "graphite"
name = "{name}"
url = "tcp://127.0.0.1:{carbon.port(protocol)}"
protocol = "{protocol}"
flush_interval = 0.05
retry_base = 0.05
retry_cap = 0.5
{extra}
"""


def tcp_listener(port: int) -> str:
    return f'[[listeners]]\nurl = "tcp://127.0.0.1:{port}"\n'


def stored_points(carbon: Carbon, prefix: str, count: int, timeout: float = 30) -> dict[str, dict[int, float]]:
    """What carbon stored under ``prefix`` once ``count`` points are there (carbon's
    writer flushes its cache about once a second)."""
    found: dict[str, dict[int, float]] = {}

    def enough() -> bool:
        nonlocal found
        found = carbon.stored(prefix + ".")
        return sum(map(len, found.values())) >= count

    wait_for(enough, timeout, interval=0.5)
    return found


def test_every_point_lands_in_whisper_through_plaintext_pickle_and_a_connection_per_batch(
    numbatd, carbon, tmp_path
) -> None:
    port, statsd_port = free_port(), free_port()
    daemon = numbatd(
        f'state_dir = "{tmp_path}/state"\n'
        + tcp_listener(port)
        + statsd_listener(statsd_port)
        + graphite_sink("plain", carbon, extra='prefix = "plain"')
        + graphite_sink("pickled", carbon, "pickle", extra='prefix = "pickled"\ntemplate = "{host}.{name}"')
        + graphite_sink("batched", carbon, extra='prefix = "batched"\nconnection = "per_batch"\ntags = false')
    )
    base = int(time.time()) - 3600  # each event a second of its own: carbon keeps one point per path and second
    count = 600
    sent = []
    with emitter.Emitter(f"tcp://127.0.0.1:{port}", app="t", **FAST) as e:
        for i in range(count):
            name = "web.latency" if i % 2 else "web.req count"  # a blank carbon cannot take
            host, route = f"h{i % 3}", f"/r{i % 4}"
            value = i * 0.25 if i % 5 else i  # floats and ints
            e.metric(name, value, time=(base + i) * 1000, host=host, route=route)
            sent.append((name.replace(" ", "_"), host, route.replace("/", "_"), value, base + i))
        e.metric("heartbeat", time=base * 1000, host="h0")  # numbat's heartbeats are not written by default
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.sendto(b"users:alice|s", ("127.0.0.1", statsd_port))  # a set's value is text: no number

    expected = {
        "plain": {f"plain.t.{n};host={h};route={r}": {} for n, h, r, _, _ in sent},
        "pickled": {f"pickled.{h}.t.{n};route={r}": {} for n, h, r, _, _ in sent},
        "batched": {f"batched.t.{n}": {} for n, _, _, _, _ in sent},
    }
    for name, host, route, value, second in sent:
        expected["plain"][f"plain.t.{name};host={host};route={route}"][second] = value
        expected["pickled"][f"pickled.{host}.t.{name};route={route}"][second] = value
        expected["batched"][f"batched.t.{name}"][second] = value
    for sink, paths in expected.items():
        assert stored_points(carbon, sink, count) == paths, sink
    for sink in expected:
        assert wait_for(lambda sink=sink: daemon.metric("numbat_sink_delivered_events_total", sink=sink) == count)
        assert daemon.metric("numbat_sink_skipped_events_total", sink=sink, reason="heartbeat") == 1
        assert daemon.metric("numbat_sink_skipped_events_total", sink=sink, reason="not a number") == 1
        assert daemon.metric("numbat_sink_spooled_events_total", sink=sink) == 0
    assert daemon.stop() == 0


def test_names_carbon_cannot_take_are_cleaned_and_stored_as_written(numbatd, carbon, tmp_path) -> None:
    port = free_port()
    daemon = numbatd(tcp_listener(port) + graphite_sink("names", carbon, extra='prefix = "names"'))
    base = int(time.time()) - 3600
    names = {
        "a b/c": "names.a_b_c",
        "..lead..and.trail.": "names.lead.and.trail",
        "glob*{x,y}[z]?": "names.glob__x_y__z__",
        "caf\u00e9.\u6771\u4eac": "names.caf_.__",
        "semi;colon=1": "names.semi_colon_1",
        "~tilde": "names._tilde",
    }
    fields = {"tag key": "v a;l~ue", "=": "x", "empty": "", "flag": True, "n": 1.5, "obj": {"a": 1}}
    events = [{"name": name, "value": i, "time": (base + i) * 1000, **fields} for i, name in enumerate(names)]
    events.append({"name": "...", "value": 1, "time": base * 1000})  # no segment left: no path
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(b"".join(orjson.dumps(event) + b"\n" for event in events))
    tags = ";_=x;flag=true;n=1.5;tag_key=v_a_l_ue"  # sorted as carbon sorts ";key=value"
    expected = {path + tags: {base + i: i} for i, path in enumerate(names.values())}
    assert stored_points(carbon, "names", len(names)) == expected
    assert wait_for(lambda: daemon.metric("numbat_sink_skipped_events_total", reason="no path") == 1)
    assert daemon.stop() == 0


class Sender(threading.Thread):
    """numbat events at a steady pace from a thread, one second of its own per event and path."""

    def __init__(self, port: int, paths: int, seconds: int, base: int) -> None:
        super().__init__(daemon=True)
        self.port, self.paths, self.seconds, self.base = port, paths, seconds, base
        self.total = paths * seconds
        self.sent = 0
        self.emitter = emitter.Emitter(f"tcp://127.0.0.1:{port}", app="s", host="h", max_backlog=self.total, **FAST)

    def run(self) -> None:
        for i in range(self.total):
            self.emitter.metric(f"p{i % self.paths}", i, time=(self.base + i // self.paths) * 1000)
            self.sent += 1
            if i % 100 == 0:
                time.sleep(0.01)  # a busy service, not a flood: the outage falls mid-stream


@pytest.mark.slow
@pytest.mark.parametrize("protocol", ["plaintext", "pickle"])
def test_carbon_stopped_mid_stream_and_started_again_every_point_lands_once(
    numbatd, own_carbon, tmp_path, protocol
) -> None:
    port = free_port()
    daemon = numbatd(
        f'state_dir = "{tmp_path}/state"\n'
        + tcp_listener(port)
        + graphite_sink("carbon", own_carbon, protocol, extra="batch_size = 1000")
    )
    sender = Sender(port, paths=40, seconds=750, base=int(time.time()) - 1000)
    sender.start()
    assert wait_for(lambda: daemon.metric("numbat_sink_written_events_total") > 4000, 60)
    own_carbon.stop()  # SIGTERM: carbon closes its connections, what waits in them unread
    stopped_at = sender.sent
    assert wait_for(lambda: daemon.metric("numbat_sink_spooled_events_total") > 0, 30)
    time.sleep(1.5)
    own_carbon.start()
    sender.join(60)
    assert sender.emitter.close(timeout=30)
    assert stopped_at < sender.total  # the outage fell mid-stream
    assert wait_for(lambda: daemon.metric("numbat_sink_delivered_events_total") == sender.total, 60)
    # every point, at its second, with its value: none lost, none stored twice (whisper
    # keeps one per second) and nothing else
    stored = stored_points(own_carbon, "s", sender.total)
    expected: dict[str, dict[int, float]] = {f"s.p{p};host=h": {} for p in range(sender.paths)}
    for i in range(sender.total):
        expected[f"s.p{i % sender.paths};host=h"][sender.base + i // sender.paths] = i
    assert stored == expected
    assert daemon.metric("numbat_sink_spool_events") == 0
    assert daemon.metric("numbat_sink_replayed_events_total") == daemon.metric("numbat_sink_spooled_events_total")
    assert daemon.metric("numbat_sink_dropped_events_total") == 0
    lost = [entry for entry in daemon.logs() if entry["message"].startswith("carbon connection lost")]
    assert lost  # what carbon may not have read was written again
    assert lost[0]["events"] > 0
    assert daemon.stop() == 0


def test_sigterm_while_carbon_is_away_then_a_restart_in_the_other_protocol_lands_everything(
    numbatd, carbon, tmp_path
) -> None:
    """The spool outlives numbatd, and replays in whichever protocol the sink speaks now."""
    port = free_port()
    state = f'state_dir = "{tmp_path}/state"\n'
    away = free_port()  # nothing listens there
    first = numbatd(
        state
        + tcp_listener(port)
        + f'[[sinks]]\ntype = "graphite"\nname = "g"\nurl = "tcp://127.0.0.1:{away}"\nprefix = "respawn"\n'
        + "flush_interval = 0.05\nretry_base = 0.05\nretry_cap = 0.2\n"
    )
    base = int(time.time()) - 3600
    count = 300
    with emitter.Emitter(f"tcp://127.0.0.1:{port}", app="r", host="h", **FAST) as e:
        for i in range(count):
            e.metric("x", i, time=(base + i) * 1000)
    assert wait_for(lambda: first.metric("numbat_sink_spooled_events_total") == count, 30)
    assert first.stop() == 0
    stopped = next(e for e in first.logs() if e["message"] == "numbatd stopped")
    assert stopped["sinks"]["g"]["spooled_for_replay"] == count
    second = numbatd(
        state + tcp_listener(free_port()) + graphite_sink("g", carbon, "pickle", extra='prefix = "respawn"')
    )
    assert stored_points(carbon, "respawn", count) == {"respawn.r.x;host=h": {base + i: i for i in range(count)}}
    assert wait_for(lambda: second.metric("numbat_sink_delivered_events_total") == count)
    assert second.metric("numbat_sink_replayed_events_total") == count
    assert second.stop() == 0


def test_an_aggregation_lands_under_statsd_paths(numbatd, carbon, tmp_path) -> None:
    """statsd lines summed by an aggregation, written as Etsy statsd's Graphite backend
    writes them: its current layout (stats.counters.x.rate...) with a global prefix, and
    its legacy one (stats.x, stats_counts.x) under the sink's prefix."""
    port = free_port()
    daemon = numbatd(
        statsd_listener(port)
        + '[[aggregations]]\nname = "1s"\ninterval = 1\n'
        + graphite_sink("current", carbon, extra='input = "1s"\nnaming = { global_prefix = "agg" }')
        + graphite_sink(
            "legacy", carbon, "pickle", extra='input = "1s"\nprefix = "old"\nnaming = { legacy_namespace = true }'
        )
    )
    wait_for_next_boundary(1)
    wait_for_next_boundary(1)  # a whole interval: rates per its second
    samples = [10, 20, 30, 40]
    lines = [
        *["hits:1|c"] * 10,
        "hits:5|c|@0.5",  # counts 10
        "hits:2|c|#env:prod",  # a series of its own, tagged
        *[f"lat:{ms}|ms" for ms in samples],
        "temp:21|g",
        "users:a|s",
        "users:b|s",
        "users:a|s",
    ]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.sendto("\n".join(lines).encode(), ("127.0.0.1", port))  # one datagram: one interval

    mean = sum(samples) / 4
    timer = {
        "count": 4,
        "count_ps": 4,
        "lower": 10,
        "upper": 40,
        "mean": mean,
        "median": 25,
        "std": math.sqrt(sum((s - mean) ** 2 for s in samples) / 4),
        "sum": 100,
        "sum_squares": 3000,
    }
    for pct, kept in ((50, 2), (90, 4), (99, 4)):  # statsd keeps round(pct / 100 * count) samples
        timer |= {
            f"count_{pct}": kept,
            f"mean_{pct}": sum(samples[:kept]) / kept,
            f"upper_{pct}": samples[kept - 1],
            f"sum_{pct}": sum(samples[:kept]),
            f"sum_squares_{pct}": sum(s * s for s in samples[:kept]),
        }
    current = {
        "agg.counters.hits.rate": 20,
        "agg.counters.hits.count": 20,
        "agg.counters.hits.rate;env=prod": 2,
        "agg.counters.hits.count;env=prod": 2,
        "agg.gauges.temp": 21,
        "agg.sets.users.count": 2,
        **{f"agg.timers.lat.{stat}": value for stat, value in timer.items()},
    }
    legacy = {
        "old.stats.hits": 20,
        "old.stats_counts.hits": 20,
        "old.stats.hits;env=prod": 2,
        "old.stats_counts.hits;env=prod": 2,
        "old.stats.gauges.temp": 21,
        "old.stats.sets.users.count": 2,
        **{f"old.stats.timers.lat.{stat}": value for stat, value in timer.items()},
    }
    for prefix, paths in (("agg", current), ("old", legacy)):
        stored = stored_points(carbon, prefix, len(paths))
        assert set(stored) == set(paths), prefix
        flushed = min(stored["agg.counters.hits.count" if prefix == "agg" else "old.stats_counts.hits"])
        for path, value in paths.items():
            points = stored[path]
            assert points[flushed] == pytest.approx(value, rel=1e-12), path
            if ".gauges." not in path:  # idle series are deleted (statsd's deleteIdleStats); gauges stay
                assert list(points) == [flushed], path
    assert daemon.stop() == 0


@pytest.mark.slow
def test_a_body_carbon_refuses_is_split_until_its_bad_points_are_dropped_and_the_rest_lands_once(
    numbatd, tmp_path
) -> None:
    """A carbon whose pickle receiver takes messages of at most 8 KiB (the sink writes up
    to 64 KiB) drops the connection on reading a larger one: it reads what came before,
    then closes. A body holding two points of 9,000-byte paths is refused however often it
    is written. It is split, halves of halves, until each long point is alone and dropped,
    counted; every other point, before it, beside it and after it, lands once, and the
    sink goes on in bounded time."""
    (tmp_path / "carbon").mkdir()
    carbon = Carbon(tmp_path / "carbon", {"PICKLE_RECEIVER_MAX_LENGTH": 8192}).start()
    try:
        port = free_port()
        daemon = numbatd(
            f'state_dir = "{tmp_path}/state"\n'
            + tcp_listener(port)
            + graphite_sink(
                "g",
                carbon,
                "pickle",
                extra='prefix = "poison"\nmax_message_bytes = 65536\nmax_path_bytes = 16000\nresend_window = 0.2\n'
                "tags = false",
            )
        )
        base = int(time.time()) - 3600
        good: dict[str, dict[int, float]] = {}
        long_names = ["x" * 9000, "y" * 9000]

        def send(first: int, count: int, poison: bool) -> None:
            events = []
            for i in range(first, first + count):
                events.append({"name": f"good{i % 4}", "value": i, "time": (base + i) * 1000})
                good.setdefault(f"poison.good{i % 4}", {})[base + i] = i
                if poison and i - first in (7, 20):
                    events.append({"name": long_names.pop(), "value": 1, "time": (base + i) * 1000})
            with socket.create_connection(("127.0.0.1", port)) as sock:
                sock.sendall(b"".join(orjson.dumps(event) + b"\n" for event in events))

        send(0, 30, poison=True)  # one batch: 30 points and the two carbon refuses
        assert wait_for(lambda: daemon.metric("numbat_sink_written_events_total") == 32, 10)
        send(30, 30, poison=False)  # behind it
        started = time.monotonic()
        assert wait_for(
            lambda: (
                daemon.metric("numbat_sink_skipped_events_total", reason="refused by carbon") == 2
                and daemon.metric("numbat_sink_delivered_events_total") == 60
            ),
            60,
        )
        assert time.monotonic() - started < 60
        assert stored_points(carbon, "poison", 60) == good  # every good point at its second, nothing else
        assert wait_for(lambda: daemon.metric("numbat_sink_spool_events") == 0, 10)
        logs = daemon.logs()
        dropped = [entry for entry in logs if entry["message"] == "a point carbon refuses is dropped"]
        assert sorted(len(entry["path"]) for entry in dropped) == [200, 200]  # the path, cut short
        assert {entry["path"][-1] for entry in dropped} == {"x", "y"}
        assert all("times it was written alone" in entry["why"] for entry in dropped)
        assert any(entry["message"].startswith("a body carbon refuses is split") for entry in logs)
        assert daemon.stop() == 0
    finally:
        carbon.stop()
