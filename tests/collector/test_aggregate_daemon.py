"""Aggregation through the real numbatd: the PyPI statsd client's lines over UDP, summed
by an aggregation, written by the sinks that take it (a JSONL file, the real InfluxDB the
suite starts), while a raw sink beside them still gets every event; SIGTERM mid-interval
flushes what was counted so far."""

from __future__ import annotations

import signal
import socket
import statistics
import time

import pytest
import statsd

from ..waiting import wait_for
from .node import run_node
from .numbatd import free_port, read_jsonl, wait_for_lines


def statsd_listener(port: int) -> str:
    return f'[[listeners]]\nurl = "udp://127.0.0.1:{port}"\nformat = "statsd"\n'


def jsonl_sink(name: str, path: object, input: str = "raw") -> str:
    return f'[[sinks]]\ntype = "jsonl"\nname = "{name}"\npath = "{path}"\nfsync = "never"\ninput = "{input}"\n'


def influx_sink(url: str, input: str) -> str:
    """The real InfluxDB's v1db, taking an aggregation's summaries."""
    return (
        f'[[sinks]]\ntype = "influxdb"\nname = "influx"\napi = "v1"\nurl = "{url}"\ndatabase = "v1db"\n'
        f'flush_interval = 0.1\ninput = "{input}"\n'
    )


def wait_past_boundary(interval: float, margin: float) -> None:
    """Sleep until just after a wall-clock multiple of ``interval``, so that what is sent
    in the next ``interval - margin`` seconds falls in one interval."""
    into = time.time() % interval
    if into > interval - margin:
        time.sleep(interval - into + 0.05)


def wait_for_next_boundary(interval: float) -> None:
    """Sleep until just after the next wall-clock multiple of ``interval``: the interval
    that begins is a whole one (the first after numbatd's start is not)."""
    time.sleep(interval - time.time() % interval + 0.05)


@pytest.mark.parametrize("raw_sink", [True, False], ids=["beside-a-raw-sink", "aggregations-alone"])
def test_sigterm_mid_interval_flushes_what_was_counted(numbatd, tmp_path, raw_sink) -> None:
    """Beside a raw sink every line is decoded into an event; with aggregations alone the
    usual lines go through the compiled scan and the others (the set, a bad line) through
    the decoder: the summaries, and the counts of decoded and rejected lines, are the same."""
    port = free_port()
    summaries, raw = tmp_path / "summaries.jsonl", tmp_path / "raw.jsonl"
    daemon = numbatd(
        statsd_listener(port)
        + '[[aggregations]]\nname = "daily"\ninterval = 86400\n'
        + jsonl_sink("summaries", summaries, "daily")
        + (jsonl_sink("raw", raw) if raw_sink else "")
    )
    wait_past_boundary(86_400, 120)  # no regular flush during the test, even at midnight
    client = statsd.StatsClient("127.0.0.1", port, prefix="app")
    for i in range(200):
        client.incr("requests")
        client.timing("latency", i)
    client.gauge("workers", 8)
    client.gauge("workers", -3, delta=True)
    for user in ["ann", "bob", "cid", "ann"]:
        client.set("users", user)
    with client.pipeline() as pipe:  # many metrics in one datagram
        for _ in range(50):
            pipe.incr("batched", 2)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:  # a bad line beside a good one
        sender.sendto(b"app.requests:x|c\napp.requests:1|c", ("127.0.0.1", port))
    sent = 200 + 200 + 2 + 4 + 50 + 1
    assert wait_for(lambda: daemon.metric("numbat_aggregation_events_total", aggregation="daily") == sent)
    assert daemon.metric("numbat_listener_decoded_events_total") == sent
    assert wait_for(lambda: daemon.metric("numbat_listener_rejected_lines_total", reason="value is not a number") == 1)
    assert daemon.metric("numbat_aggregation_series", aggregation="daily") == 5
    assert read_jsonl(summaries) == []  # nothing flushed before the stop
    stopped_at = time.time()
    assert daemon.stop() == 0
    got = {summary["name"]: summary for summary in read_jsonl(summaries)}
    assert sorted(got) == ["app.batched", "app.latency", "app.requests", "app.users", "app.workers"]
    assert {summary["time"] for summary in got.values()} == {got["app.requests"]["time"]}
    assert abs(got["app.requests"]["time"] / 1000 - stopped_at) < 10  # stamped at the stop
    assert (got["app.requests"]["kind"], got["app.requests"]["count"]) == ("counter", 201)
    assert got["app.batched"]["count"] == 100
    latency = got["app.latency"]
    assert (latency["kind"], latency["count"], latency["lower"], latency["upper"]) == ("timer", 200, 0, 199)
    assert latency["sum"] == sum(range(200))
    assert (got["app.workers"]["kind"], got["app.workers"]["value"]) == ("gauge", 5)
    assert (got["app.users"]["kind"], got["app.users"]["count"]) == ("set", 3)
    if raw_sink:
        assert len(read_jsonl(raw)) == sent  # the raw sink got every event
    stopped = next(entry for entry in daemon.logs() if entry["message"] == "numbatd stopped")
    assert stopped["sinks"]["summaries"]["written"] == 5


def test_statsd_into_an_aggregation_into_influxdb(numbatd, influxd, tmp_path) -> None:
    """One point per series per flush, a field per statistic and the tags as tags, equal to
    the summaries a JSONL sink of the same aggregation wrote; every event in the raw file."""
    port = free_port()
    summaries, raw = tmp_path / "summaries.jsonl", tmp_path / "raw.jsonl"
    daemon = numbatd(
        f'state_dir = "{tmp_path}/state"\n'
        + statsd_listener(port)
        + '[[aggregations]]\nname = "5s"\ninterval = 5\npercentiles = [90, -10]\nhistogram_bins = [10, 50, "inf"]\n'
        + influx_sink(influxd.url, "5s")
        + jsonl_sink("summaries", summaries, "5s")
        + jsonl_sink("raw", raw)
    )
    wait_for_next_boundary(5)
    client = statsd.StatsClient("127.0.0.1", port)
    # Telegraf's tags in the name (the PyPI client passes the name as is)
    with client.pipeline() as pipe:
        for _ in range(30):
            pipe.incr("requests,host=h1")
        for _ in range(20):
            pipe.incr("requests,host=h2", 2)
    latencies = list(range(1, 101))
    with client.pipeline() as pipe:
        for value in latencies:
            pipe.timing("latency,host=h1", value)
    client.gauge("temperature", 21.5)
    client.set("users", "ann")
    client.set("users", "bob")
    sent = 30 + 20 + 100 + 1 + 2
    assert wait_for(lambda: len(read_jsonl(summaries)) >= 5, 15)
    written = read_jsonl(summaries)
    assert len(written) == 5  # one per series: (requests, h1), (requests, h2), latency, temperature, users
    (flush_ms,) = {summary["time"] for summary in written}
    assert flush_ms % 5_000 == 0
    assert wait_for(lambda: sum(len(influxd.points(m, "v1db")) for m in _names(written)) == 5, 15)
    for summary in written:
        (point,) = [p for p in influxd.points(summary["name"], "v1db") if p.get("host") == summary.get("host")]
        assert point["time"] == flush_ms
        assert point["kind"] == summary["kind"]  # a tag
        fields = {key: value for key, value in point.items() if value is not None}
        assert fields == {k: v for k, v in summary.items() if k != "name"}, summary["name"]
    by_host = {p["host"]: p for p in influxd.points("requests", "v1db")}
    assert (by_host["h1"]["count"], by_host["h1"]["rate"]) == (30, 6)  # per second of 5
    assert (by_host["h2"]["count"], by_host["h2"]["rate"]) == (40, 8)
    (latency,) = influxd.points("latency", "v1db")
    assert (latency["count"], latency["lower"], latency["upper"], latency["sum"]) == (100, 1, 100, 5050)
    assert (latency["mean"], latency["median"]) == (50.5, 50.5)
    assert latency["std"] == pytest.approx(statistics.pstdev(latencies), rel=1e-12)
    assert (latency["count_90"], latency["upper_90"], latency["sum_90"]) == (90, 90, sum(range(1, 91)))
    assert (latency["count_top10"], latency["lower_top10"]) == (10, 91)
    assert (latency["bin_10"], latency["bin_50"], latency["bin_inf"]) == (9, 40, 51)
    assert influxd.points("temperature", "v1db")[0]["value"] == 21.5
    assert influxd.points("users", "v1db")[0]["count"] == 2
    assert len(wait_for_lines(raw, sent)) == sent  # the raw sink beside them got every event
    assert daemon.metric("numbat_aggregation_summaries_total", aggregation="5s") == 5
    assert daemon.stop() == 0


def _names(summaries: list[dict]) -> set[str]:
    return {summary["name"] for summary in summaries}


def test_a_reload_keeps_what_was_aggregated_and_flushes_it_when_the_options_change(numbatd, tmp_path) -> None:
    port = free_port()
    summaries = tmp_path / "summaries.jsonl"
    sinks = jsonl_sink("summaries", summaries, "daily")
    config = statsd_listener(port) + '[[aggregations]]\nname = "daily"\ninterval = 86400\n'
    daemon = numbatd(config + sinks)
    wait_past_boundary(86_400, 120)
    client = statsd.StatsClient("127.0.0.1", port)

    def send(count: int, total: int) -> None:
        for _ in range(count):
            client.incr("hits")
        assert wait_for(lambda: daemon.metric("numbat_aggregation_events_total", aggregation="daily") == total)

    send(10, 10)
    daemon.write_config(config + sinks + jsonl_sink("raw", tmp_path / "raw.jsonl"))  # a new sink; same options
    daemon.signal(signal.SIGHUP)
    assert wait_for(lambda: daemon.metric("numbat_config_reloads_total", result="applied") == 1)
    assert read_jsonl(summaries) == []  # kept, not flushed
    send(5, 15)
    daemon.write_config(config.replace("86400", "86400\npercentiles = [95]") + sinks)  # new options
    daemon.signal(signal.SIGHUP)
    assert wait_for(lambda: daemon.metric("numbat_config_reloads_total", result="applied") == 2)
    assert wait_for(lambda: len(read_jsonl(summaries)) == 1)
    send(3, 18)
    assert daemon.stop() == 0
    assert [summary["count"] for summary in read_jsonl(summaries)] == [15, 3]


#: hot-shots (Node) with DogStatsD tags: counters sampled and not, timings, a gauge and a
#: set, then a service check, to PORT (the last argument); exits once every send is acknowledged.
HOT_SHOTS_AGGREGATED = r"""
const StatsD = require('hot-shots');
const port = Number(process.argv[process.argv.length - 1]);
const client = new StatsD({ host: '127.0.0.1', port, prefix: 'node.', globalTags: { env: 'prod' } });
let pending = 0;
const sent = () => { pending++; return () => { if (--pending === 0) client.close(); }; };
for (let i = 0; i < 30; i++) client.increment('requests', 1, { route: 'tarball' }, sent());
for (let i = 0; i < 10; i++) client.increment('requests', 1, { route: 'meta' }, sent());
for (let i = 1; i <= 20; i++) client.timing('latency', i, { route: 'tarball' }, sent());
client.gauge('workers', 7, sent());
for (const user of ['ann', 'bob', 'ann']) client.set('users', user, sent());
client.check('queue.depth', client.CHECKS.CRITICAL, { message: 'stuck' }, sent());
"""


def test_hot_shots_into_an_aggregation_into_influxdb(numbatd, hot_shots, influxd, tmp_path) -> None:
    """A Node statsd client's tagged lines: one series per tag set, statistics as statsd
    computes them, in InfluxDB as in the JSONL file, and a service check passed on as an
    event (kept by the raw sink)."""
    port = free_port()
    summaries, raw = tmp_path / "summaries.jsonl", tmp_path / "raw.jsonl"
    daemon = numbatd(
        f'state_dir = "{tmp_path}/state"\n'
        + statsd_listener(port)
        + '[[aggregations]]\nname = "daily"\ninterval = 86400\n'
        + influx_sink(influxd.url, "daily")
        + jsonl_sink("summaries", summaries, "daily")
        + jsonl_sink("raw", raw)
    )
    wait_past_boundary(86_400, 120)
    result = run_node(hot_shots, HOT_SHOTS_AGGREGATED, str(port))
    assert result.returncode == 0, result.stderr
    sent = 30 + 10 + 20 + 1 + 3  # the service check is no metric: it passes through
    assert wait_for(lambda: daemon.metric("numbat_aggregation_events_total", aggregation="daily") == sent)
    assert daemon.stop() == 0
    got = read_jsonl(summaries)
    counters = {s["route"]: s for s in got if s["name"] == "node.requests"}
    assert {route: (s["count"], s["env"]) for route, s in counters.items()} == {
        "tarball": (30, "prod"),
        "meta": (10, "prod"),
    }
    (latency,) = [s for s in got if s["name"] == "node.latency"]
    assert (latency["count"], latency["lower"], latency["upper"], latency["sum"]) == (20, 1, 20, 210)
    assert latency["upper_90"] == 18  # statsd: the 18th of 20 sorted values
    (users,) = [s for s in got if s["name"] == "node.users"]
    assert users["count"] == 2
    (workers,) = [s for s in got if s["name"] == "node.workers"]
    assert workers["value"] == 7
    checks = [e for e in read_jsonl(raw) if e["name"] == "node.queue.depth"]
    assert [(e["status"], e["description"]) for e in checks] == [("critical", "stuck")]
    # what the stop flushed reached InfluxDB before numbatd exited, as the file has it
    points = {p["route"]: p for p in influxd.points("node.requests", "v1db")}
    assert {route: (p["count"], p["env"], p["kind"]) for route, p in points.items()} == {
        "tarball": (30, "prod", "counter"),
        "meta": (10, "prod", "counter"),
    }
    (point,) = influxd.points("node.latency", "v1db")
    assert (point["count"], point["upper_90"], point["sum"]) == (20, 18, 210)


def test_the_series_bound_through_the_daemon(numbatd, tmp_path) -> None:
    """Past max_series a new series is dropped and counted; the series held go on."""
    port = free_port()
    summaries = tmp_path / "summaries.jsonl"
    daemon = numbatd(
        statsd_listener(port)
        + '[[aggregations]]\nname = "daily"\ninterval = 86400\nmax_series = 2\n'
        + jsonl_sink("summaries", summaries, "daily")
    )
    wait_past_boundary(86_400, 120)
    client = statsd.StatsClient("127.0.0.1", port)
    for name in ["first", "second", "third", "first", "third"]:
        client.incr(name)
        assert wait_for(lambda: daemon.metric("numbat_aggregation_events_total", aggregation="daily") >= 1)
        time.sleep(0.05)  # one datagram after another, in order
    assert wait_for(lambda: daemon.metric("numbat_aggregation_dropped_series_total", aggregation="daily") == 2)
    assert daemon.metric("numbat_aggregation_series", aggregation="daily") == 2
    assert daemon.stop() == 0
    assert {s["name"]: s["count"] for s in read_jsonl(summaries)} == {"first": 2, "second": 1}
