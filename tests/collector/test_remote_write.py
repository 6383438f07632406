"""The prometheus_remote_write sink against a real Prometheus (its remote-write
receiver): every point queried back through the HTTP API; what Prometheus refuses is
dropped alone; a restart of Prometheus mid-stream loses nothing. A stand-in server
(remote_write_decoder.StandIn) supplements it for the answers Prometheus cannot be made
to give: 429 with Retry-After, 503, 404, and for the request's headers."""

from __future__ import annotations

import importlib.metadata
import socket
import subprocess
import sys
import threading
import time
import tomllib
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import orjson
import pytest
import statsd

import emitter
from collector.config import ConfigError, parse_config
from collector.sinks import SINK_TYPES
from collector.sinks.remote._spool import encode_record
from collector.sinks.remote_write._protobuf import encode_labels, encode_samples, encode_series
from collector.sinks.remote_write._sink import compress

from ..waiting import wait_for
from .numbatd import free_port, read_jsonl
from .prometheus_receiver import Prometheus
from .remote_write_decoder import StandIn

FAST = {"backoff_base": 0.01, "backoff_cap": 0.2}
#: Recent enough for Prometheus's head block (it refuses samples far behind its newest).
BASE_MS = (int(time.time()) - 600) * 1000


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory) -> Iterator[Prometheus]:
    """One Prometheus for the module's tests, each writing series of its own names."""
    server = Prometheus(tmp_path_factory.mktemp("prometheus")).start()
    yield server
    server.stop()


@pytest.fixture
def stand_in() -> Iterator[StandIn]:
    server = StandIn()
    yield server
    server.stop()


def sink(url: str, name: str = "rw", extra: str = "") -> str:
    return f"""
[[sinks]]
type = "prometheus_remote_write"
name = "{name}"
url = "{url}"
flush_interval = 0.1
retry_base = 0.05
retry_cap = 0.5
{extra}
"""


def tcp_listener(port: int) -> str:
    return f'[[listeners]]\nurl = "tcp://127.0.0.1:{port}"\n'


def send_lines(port: int, events: list[dict]) -> None:
    with socket.create_connection(("127.0.0.1", port)) as connection:
        connection.sendall(b"".join(orjson.dumps(event) + b"\n" for event in events))


def test_events_query_back_point_by_point(numbatd, prometheus, tmp_path) -> None:
    port = free_port()
    daemon = numbatd(
        f'state_dir = "{tmp_path}/state"\n'
        + tcp_listener(port)
        + sink(prometheus.write_url, extra='prefix = "nb_"\nstatic_labels = { job = "numbat" }')
    )
    sent: dict[tuple, list[tuple[int, float]]] = {}
    with emitter.Emitter(f"tcp://127.0.0.1:{port}", app="q", node="n1", host="h1", **FAST) as e:
        for i in range(600):
            fields = {"status": ["ok", "warning"][i % 2], "route": f"/r{i % 3}", "http.code": 200 + i % 2}
            e.metric("req.latency", i * 1.5, time=BASE_MS + i, **fields)
            labels = {
                "__name__": "nb_q_req_latency",
                "host": "h1",
                "node": "n1",
                "job": "numbat",
                "status": fields["status"],
                "route": fields["route"],
                "http_code": str(fields["http.code"]),
            }
            sent.setdefault(tuple(sorted(labels.items())), []).append((BASE_MS + i, i * 1.5))
        e.metric("heartbeat", time=BASE_MS)  # numbat's heartbeats are not written by default
    assert wait_for(lambda: prometheus.count("nb_q_req_latency") == 600, 30)
    assert prometheus.samples("nb_q_req_latency") == sent
    assert [s["__name__"] for s in prometheus.series('{__name__=~"nb_q_.*"}')] == ["nb_q_req_latency"] * 6
    assert daemon.metric("numbat_sink_skipped_events_total", sink="rw", reason="heartbeat") == 1
    assert daemon.metric("numbat_sink_delivered_events_total", sink="rw") == 600
    assert daemon.stop() == 0


def test_lines_of_the_usual_shape_and_others_land_point_by_point(numbatd, prometheus, tmp_path) -> None:
    """The sink writes from the lines (the listener lets lines of the usual shape through
    undecoded, the compiled path reads them): mixed with lines the decoder must complete
    or refuse, in one read, every point lands as the decoder reads it, and bad lines are
    counted."""
    port = free_port()
    daemon = numbatd(f'state_dir = "{tmp_path}/state"\n' + tcp_listener(port) + sink(prometheus.write_url))
    usual = [
        b'{"name":"mix.a","value":%s,"time":%d,"host":"h%d"}' % (value, BASE_MS + i, i % 3)
        for i, value in enumerate([b"1", b"-2.5", b"0.1", b"123456789012345", b"-0", b"7.25"] * 50)
    ]
    others = [
        b'{"name":"mix.a","value":1e3,"time":%d,"host":"h0"}' % (BASE_MS + 1000),  # an exponent: Python reads it
        b'{"name":"mix.a","value":2,"time":"%s","host":"h1"}'
        % time.strftime("%Y-%m-%dT%H:%M:%S.001Z", time.gmtime(BASE_MS // 1000 + 2)).encode(),
        b'{"name":"mix.a","value":true,"time":%d,"host":"h2"}' % (BASE_MS + 1002),
        b'{"name":"mix.a","value":"x","time":%d}' % (BASE_MS + 1003),  # refused: value is not a number
        b"not json",
        b'{"name":"mix.a","value":3,"time":%d,"host":"h\\u0030"}' % (BASE_MS + 1004),  # an escape: h0
    ]
    lines = usual[:150] + others + usual[150:]
    with socket.create_connection(("127.0.0.1", port)) as connection:
        connection.sendall(b"\n".join(lines) + b"\n")
    expected: dict[tuple, list[tuple[int, float]]] = {}
    for line in lines:
        try:
            event = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if not isinstance(event["value"], (int, float)):
            continue
        stamp = event["time"] if isinstance(event["time"], int) else BASE_MS // 1000 * 1000 + 2001
        labels = (("__name__", "mix_a"), ("host", event["host"]))
        expected.setdefault(labels, []).append((stamp, float(event["value"])))
    for points in expected.values():
        points.sort()
    assert wait_for(lambda: prometheus.count("mix_a") == 304, 30)
    assert prometheus.samples("mix_a") == expected
    assert daemon.metric("numbat_listener_rejected_lines_total", reason="invalid JSON") == 1
    assert daemon.metric("numbat_listener_rejected_lines_total", reason="value is not a number") == 1
    assert daemon.metric("numbat_sink_delivered_events_total", sink="rw") == 304
    assert daemon.stop() == 0


def test_each_request_carries_the_protocols_headers(numbatd, stand_in, tmp_path) -> None:
    port = free_port()
    daemon = numbatd(
        f'state_dir = "{tmp_path}/state"\n'
        + tcp_listener(port)
        + sink(stand_in.url, extra='headers = { "X-Scope-OrgID" = "tenant-1" }')
    )
    send_lines(port, [{"name": "h.x", "value": i, "time": BASE_MS + 9 - i, "b": "2", "a": "1"} for i in range(10)])
    assert wait_for(lambda: sum(len(points) for r in stand_in.received for _, points in r.series) == 10)
    request = stand_in.received[0]
    assert request.path == "/receive"
    assert request.headers["content-encoding"] == "snappy"
    assert request.headers["content-type"] == "application/x-protobuf"
    assert request.headers["x-prometheus-remote-write-version"] == "0.1.0"
    assert request.headers["user-agent"] == f"numbatd/{importlib.metadata.version('numbat')}"
    assert request.headers["x-scope-orgid"] == "tenant-1"
    [(labels, points)] = request.series
    assert labels == [("__name__", "h_x"), ("a", "1"), ("b", "2")]  # sorted by name
    assert points == [(float(9 - i), BASE_MS + i) for i in range(10)]  # in time order
    assert daemon.stop() == 0


def points_received(stand_in: StandIn) -> list[tuple[float, int]]:
    return sorted(point for request in stand_in.received for _, points in request.series for point in points)


def test_5xx_and_429_are_retried_and_retry_after_honoured(numbatd, stand_in, tmp_path) -> None:
    stand_in.answers += [(503, {}), (429, {"Retry-After": "1"})]
    port = free_port()
    daemon = numbatd(f'state_dir = "{tmp_path}/state"\n' + tcp_listener(port) + sink(stand_in.url))
    send_lines(port, [{"name": "r.x", "value": i, "time": BASE_MS + i} for i in range(20)])
    assert wait_for(lambda: len(points_received(stand_in)) == 20, 20)
    assert points_received(stand_in) == [(float(i), BASE_MS + i) for i in range(20)]  # each once
    assert len(stand_in.refused) == 2
    # the request after the 429 waited what it asked, not retry_cap's 0.5 s
    assert stand_in.received[0].at - stand_in.refused[1].at >= 0.95
    assert daemon.metric("numbat_sink_retries_total") == 2
    assert daemon.metric("numbat_sink_skipped_events_total") == 0
    assert daemon.stop() == 0


def test_other_4xx_are_not_retried_and_the_rest_lands(numbatd, stand_in, tmp_path) -> None:
    stand_in.answers += [(404, {})]
    port = free_port()
    daemon = numbatd(f'state_dir = "{tmp_path}/state"\n' + tcp_listener(port) + sink(stand_in.url))
    send_lines(port, [{"name": "n.x", "value": i, "time": BASE_MS + i} for i in range(5)])
    assert wait_for(lambda: daemon.metric("numbat_sink_skipped_events_total", reason="refused by the store") == 5)
    send_lines(port, [{"name": "n.x", "value": i, "time": BASE_MS + i} for i in range(5, 8)])
    assert wait_for(lambda: len(points_received(stand_in)) == 3)
    time.sleep(0.3)  # a retry of the refused request would show up now
    assert points_received(stand_in) == [(float(i), BASE_MS + i) for i in range(5, 8)]
    assert len(stand_in.refused) == 1
    assert daemon.metric("numbat_sink_retries_total") == 0
    refusal = next(e for e in daemon.logs() if e["message"] == "remote-write receiver refused series; dropped")
    assert (refusal["status"], refusal["reason"]) == (404, "no thanks")
    assert daemon.stop() == 0


def test_a_spooled_body_that_is_no_request_is_refused_once_and_dropped(numbatd, stand_in, tmp_path) -> None:
    """A spool left by something else (another version) must not block the sink for ever."""
    spool = tmp_path / "state" / "rw" / "spool"
    spool.mkdir(parents=True)
    not_requests = encode_record(b"not snappy", 3) + encode_record(compress(b"\xff\xff"), 2)
    (spool / "000000000001.spool").write_bytes(not_requests)
    port = free_port()
    daemon = numbatd(f'state_dir = "{tmp_path}/state"\n' + tcp_listener(port) + sink(stand_in.url))
    assert wait_for(lambda: daemon.metric("numbat_sink_spool_events") == 0)
    send_lines(port, [{"name": "z.x", "value": 1, "time": BASE_MS}])
    assert wait_for(lambda: points_received(stand_in) == [(1.0, BASE_MS)])
    assert len(stand_in.refused) == 2  # each refused once, not retried
    assert daemon.metric("numbat_sink_skipped_events_total", reason="refused by the store") == 2
    assert daemon.stop() == 0


def write_directly(prometheus: Prometheus, name: str, stamp: int, value: float) -> None:
    data, _ = encode_samples(np.array([value]), np.array([stamp]))
    body = compress(encode_series(encode_labels([("__name__", name), ("host", "h")]), data))
    request = urllib.request.Request(
        prometheus.write_url,
        data=body,
        headers={"Content-Encoding": "snappy", "Content-Type": "application/x-protobuf"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 204


def test_a_series_prometheus_refuses_is_dropped_alone(numbatd, prometheus, tmp_path) -> None:
    # Prometheus already holds a newer sample of one series (another writer put it there):
    # it answers 400 for the whole request that carries older samples of that series.
    write_directly(prometheus, "x_late", BASE_MS + 10_000, -1.0)
    port = free_port()
    daemon = numbatd(f'state_dir = "{tmp_path}/state"\n' + tcp_listener(port) + sink(prometheus.write_url))
    events = [{"name": f"x.fine{i % 7}", "value": i, "time": BASE_MS + i, "host": "h"} for i in range(70)]
    events[30:30] = [{"name": "x.late", "value": i, "time": BASE_MS + i, "host": "h"} for i in range(25)]
    send_lines(port, events)
    assert wait_for(lambda: daemon.metric("numbat_sink_delivered_events_total") == 95, 20)
    assert daemon.metric("numbat_sink_skipped_events_total", reason="refused by the store") == 25
    assert prometheus.count('{__name__=~"x_fine.*"}') == 70  # every sample beside it landed
    assert prometheus.samples("x_late") == {(("__name__", "x_late"), ("host", "h")): [(BASE_MS + 10_000, -1.0)]}
    refusal = next(e for e in daemon.logs() if e["message"] == "remote-write receiver refused series; dropped")
    assert refusal["status"] == 400
    assert refusal["series"] == 1
    assert refusal["example"] == '{__name__="x_late", host="h"}'
    assert "out of order" in refusal["reason"]  # Prometheus's own words, logged as they are
    assert daemon.stop() == 0


def test_bad_labels_and_disordered_events_are_counted_and_the_rest_lands(numbatd, prometheus, tmp_path) -> None:
    port = free_port()
    daemon = numbatd(f'state_dir = "{tmp_path}/state"\n' + tcp_listener(port) + sink(prometheus.write_url))
    send_lines(
        port,
        [
            {"name": "b.good", "value": 1, "time": BASE_MS + 100},
            {"name": "b.good", "value": 2, "time": BASE_MS + 101, "__reserved": "x"},  # bad label name
            {"name": "b.good", "value": 3, "time": BASE_MS + 102, "a.b": "1", "a_b": "2"},  # two keys, one label
            {"name": "b.good", "value": True, "time": BASE_MS + 103},  # a boolean is 1
            {"name": "b.good", "value": 4, "time": BASE_MS + 104},
        ],
    )
    assert wait_for(lambda: prometheus.count("b_good") == 3)
    send_lines(port, [{"name": "b.good", "value": 5, "time": BASE_MS + 50}])  # older than what was sent
    assert wait_for(lambda: daemon.metric("numbat_sink_skipped_events_total", reason="out of order") == 1)
    assert daemon.metric("numbat_sink_skipped_events_total", reason="bad label name") == 2
    assert daemon.metric("numbat_sink_skipped_events_total", reason="refused by the store") == 0  # never sent
    good = [(BASE_MS + 100, 1.0), (BASE_MS + 103, 1.0), (BASE_MS + 104, 4.0)]
    assert prometheus.samples("b_good") == {(("__name__", "b_good"),): good}
    logged = [e for e in daemon.logs() if e["message"] == "series not written: bad label name"]
    assert logged
    assert logged[0]["example"] == "b.good"
    assert daemon.stop() == 0


def test_summaries_of_an_aggregation_land_as_series(numbatd, prometheus, tmp_path) -> None:
    """The summaries a JSONL sink of the same aggregation wrote, statistic by statistic."""
    port = free_port()
    summaries = tmp_path / "summaries.jsonl"
    daemon = numbatd(
        f'state_dir = "{tmp_path}/state"\n'
        f'[[listeners]]\nurl = "udp://127.0.0.1:{port}"\nformat = "statsd"\n'
        '[[aggregations]]\nname = "daily"\ninterval = 86400\npercentiles = [90, 99.9]\n'
        + sink(prometheus.write_url, extra='input = "daily"')
        + f'[[sinks]]\ntype = "jsonl"\nname = "summaries"\npath = "{summaries}"\ninput = "daily"\n'
    )
    client = statsd.StatsClient("127.0.0.1", port, prefix="agg")
    for value in (10, 20, 30, 40):
        client.timing("latency", value)
        client.incr("requests")
    client.gauge("workers", 7)
    for user in ("ann", "bob", "ann"):
        client.set("users", user)
    assert wait_for(lambda: daemon.metric("numbat_aggregation_events_total") == 12)
    assert daemon.stop() == 0  # the stop flushes the interval, and the sinks drain
    got = {summary["name"]: summary for summary in read_jsonl(summaries)}
    latency = got["agg.latency"]
    stamp = latency["time"]

    def value(selector: str) -> float:
        [(_, points)] = prometheus.samples(selector).items()
        assert [t for t, _ in points] == [stamp]
        return points[0][1]

    assert value("agg_latency_count") == latency["count"] == 4
    assert value("agg_latency_sum") == latency["sum"] == 100
    assert value("agg_latency_median") == latency["median"] == 25
    assert value('agg_latency{quantile="0.9"}') == latency["upper_90"] == 40
    assert value('agg_latency{quantile="0.999"}') == latency["upper_99_9"] == 40
    assert value("agg_latency_std") == latency["std"]
    assert value("agg_requests_count") == got["agg.requests"]["count"] == 4
    assert value("agg_requests_rate") == got["agg.requests"]["rate"]
    assert value("agg_workers") == got["agg.workers"]["value"] == 7
    assert value("agg_users_count") == got["agg.users"]["count"] == 2
    timer_series = {s["__name__"] for s in prometheus.series('{__name__=~"agg_latency.*"}')}
    statistics = {key for key in latency if key not in ("name", "time", "kind") and not key.startswith("upper_")}
    assert timer_series == {"agg_latency"} | {f"agg_latency_{key}" for key in statistics}


class Sender(threading.Thread):
    """Streams ``count`` events over four series with distinct timestamps, at a
    service's pace, so that an outage falls mid-stream."""

    def __init__(self, port: int, count: int) -> None:
        super().__init__(daemon=True)
        self.emitter = emitter.Emitter(f"tcp://127.0.0.1:{port}", app="o", host="h", max_backlog=count + 1, **FAST)
        self.count, self.sent = count, 0

    def run(self) -> None:
        for i in range(self.count):
            self.emitter.metric("stream", i, time=BASE_MS + i, shard=str(i % 4))
            self.sent += 1
            if i % 1000 == 0:
                time.sleep(0.01)


@pytest.mark.slow
def test_prometheus_restarted_mid_stream_loses_nothing(numbatd, tmp_path: Path) -> None:
    folder = tmp_path / "prometheus"
    folder.mkdir()
    prometheus = Prometheus(folder).start()
    try:
        port = free_port()
        daemon = numbatd(f'state_dir = "{tmp_path}/state"\n' + tcp_listener(port) + sink(prometheus.write_url))
        total = 60_000
        sender = Sender(port, total)
        sender.start()
        assert wait_for(lambda: daemon.metric("numbat_sink_delivered_events_total") > 5_000, 30)
        prometheus.stop()
        assert wait_for(lambda: daemon.metric("numbat_sink_spooled_events_total") > 0, 30)
        time.sleep(1)
        prometheus.start()  # the same storage: its WAL is replayed
        sender.join(60)
        assert sender.emitter.close(timeout=30)
        assert wait_for(lambda: daemon.metric("numbat_sink_delivered_events_total") == total, 60)
        assert wait_for(lambda: daemon.metric("numbat_sink_spool_events") == 0, 30)
        expected = {
            (("__name__", "o_stream"), ("host", "h"), ("shard", str(shard))): [
                (BASE_MS + i, float(i)) for i in range(shard, total, 4)
            ]
            for shard in range(4)
        }
        assert prometheus.samples("o_stream") == expected  # every point, once
        assert daemon.metric("numbat_sink_replayed_events_total") == daemon.metric("numbat_sink_spooled_events_total")
        assert daemon.metric("numbat_sink_dropped_events_total") == 0
        assert daemon.stop() == 0
    finally:
        prometheus.stop()


@pytest.mark.slow
def test_the_spool_outlives_numbatd_while_prometheus_is_away(numbatd, tmp_path: Path) -> None:
    folder = tmp_path / "prometheus"
    folder.mkdir()
    prometheus = Prometheus(folder)  # not started yet: away from the first event on
    try:
        port = free_port()
        config = f'state_dir = "{tmp_path}/state"\n' + tcp_listener(port) + sink(prometheus.write_url)
        first = numbatd(config)
        send_lines(port, [{"name": "s.x", "value": i, "time": BASE_MS + i} for i in range(3_000)])
        assert wait_for(lambda: first.metric("numbat_sink_spooled_events_total") == 3_000, 20)
        assert first.stop() == 0
        away = next(e for e in first.logs() if e["message"] == "remote-write receiver unavailable; spooling")
        assert away["error"] == f"connection refused by 127.0.0.1:{prometheus.port}"
        prometheus.start()
        second = numbatd(config)  # replays the first one's spool
        assert wait_for(lambda: prometheus.count("s_x") == 3_000, 30)
        assert prometheus.samples("s_x") == {(("__name__", "s_x"),): [(BASE_MS + i, float(i)) for i in range(3_000)]}
        assert wait_for(lambda: second.metric("numbat_sink_replayed_events_total") == 3_000)
        assert second.stop() == 0
    finally:
        prometheus.stop()


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ('url = "ftp://x"', "sinks[0].url: 'ftp://x' is not an http(s) URL"),
        ('prefix = "9x"', "sinks[0].prefix: '9x': letters, digits and _ only"),
        ('static_labels = { "__x" = "1" }', "sinks[0].static_labels: '__x' is not a label name"),
        ('static_labels = { "job" = 1 }', "sinks[0].static_labels: job: must be a non-empty string"),
        ('headers = { "Content-Type" = "text/plain" }', "sinks[0].headers: 'Content-Type' is set by the protocol"),
        ("batch_size = 0", "sinks[0].batch_size: must be positive"),
        ("max_retry_after = -1", "sinks[0].max_retry_after: must be positive"),
        ("max_in_flight = 4", "sinks[0].max_in_flight: unknown key"),
    ],
)
def test_bad_options_are_named_by_their_key(keys: str, message: str) -> None:
    text = f'{tcp_listener(3333)}[[sinks]]\ntype = "prometheus_remote_write"\n{keys}\n'
    with pytest.raises(ConfigError) as refused:
        parse_config(tomllib.loads(text), SINK_TYPES)
    assert message in str(refused.value)


def test_check_config_refuses_a_bad_sink_with_exit_2(tmp_path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(f'{tcp_listener(3333)}[[sinks]]\ntype = "prometheus_remote_write"\nprefix = "a-b"\n')
    command = [sys.executable, "-m", "collector", "--check-config", str(path)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert "sinks[0].prefix: 'a-b'" in result.stderr
    path.write_text(f'{tcp_listener(3333)}[[sinks]]\ntype = "prometheus_remote_write"\nprefix = "numbat_"\n')
    assert subprocess.run(command, capture_output=True, timeout=30).returncode == 0
