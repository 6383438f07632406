"""The InfluxDB sink and its spool against a real InfluxDB: every point queried back,
outages and restarts lose nothing, bad points and runaway series are contained."""

from __future__ import annotations

import signal
import socket
import threading
import time

import emitter

from ..waiting import wait_for
from .numbatd import free_port

BASE_MS = 1_700_000_000_000
FAST = {"backoff_base": 0.01, "backoff_cap": 0.2}


def influx_sink(
    influxd, name: str = "influx", *, api: str = "v1", url: str = "", batch_size: int = 5000, extra: str = ""
) -> str:
    target = 'database = "v1db"' if api == "v1" else 'bucket = "v2db"\norg = "numbat"\ntoken = "t"'
    return f"""
[[sinks]]
type = "influxdb"
name = "{name}"
api = "{api}"
url = "{url or influxd.url}"
{target}
batch_size = {batch_size}
flush_interval = 0.1
retry_base = 0.05
retry_cap = 0.5
{extra}
"""


def tcp_listener(port: int) -> str:
    return f'[[listeners]]\nurl = "tcp://127.0.0.1:{port}"\n'


def test_points_query_back_exactly_through_v1_and_v2(numbatd, influxd, v2_gateway, tmp_path) -> None:
    port = free_port()
    daemon = numbatd(
        f'state_dir = "{tmp_path}/state"\n'
        + tcp_listener(port)
        + influx_sink(influxd, "v1")
        + influx_sink(influxd, "v2", api="v2", url=v2_gateway.url, extra='fields = ["ratio"]')
    )
    sent = []
    with emitter.Emitter(f"tcp://127.0.0.1:{port}", app="q", node="n1", host="h1", **FAST) as e:
        for i in range(300):
            fields = {"status": ["ok", "warning"][i % 2], "ratio": i / 4, "route": f"/r{i % 3}"}
            e.metric("latency", i * 1.5, time=BASE_MS + i, **fields)
            sent.append({"time": BASE_MS + i, "value": i * 1.5, **fields})
        e.metric("heartbeat", time=BASE_MS)  # numbat's heartbeats are not written by default
    assert wait_for(lambda: influxd.count("q.latency", "v1db") == 300 and influxd.count("q.latency", "v2db") == 300)
    for db, ratio_is_field in (("v1db", False), ("v2db", True)):
        points = sorted(influxd.points("q.latency", db), key=lambda p: p["time"])
        for point, expected in zip(points, sent, strict=True):
            assert point["time"] == expected["time"]
            assert point["value"] == expected["value"]
            assert (point["status"], point["route"], point["host"], point["node"]) == (
                expected["status"],
                expected["route"],
                "h1",
                "n1",
            )
            # a tag comes back as text, a field as a number
            assert point["ratio"] == (expected["ratio"] if ratio_is_field else _tag(expected["ratio"]))
    assert influxd.query("SHOW MEASUREMENTS", "v1db")[0]["values"] == [["q.latency"]]
    assert daemon.metric("numbat_sink_skipped_events_total", sink="v1", reason="heartbeat") == 1
    assert v2_gateway.requests > 0
    assert daemon.stop() == 0


def _tag(number: float) -> str:
    text = repr(number)
    return text[:-2] if text.endswith(".0") else text


class Sender(threading.Thread):
    """Streams ``count`` events with distinct timestamps (InfluxDB keeps one point per
    series and time) through our emitter, pausing when told to."""

    def __init__(self, port: int, count: int, start_at: int = 0) -> None:
        super().__init__(daemon=True)
        self.emitter = emitter.Emitter(f"tcp://127.0.0.1:{port}", app="o", max_backlog=count + 1, **FAST)
        self.count, self.start_at, self.sent = count, start_at, 0

    def run(self) -> None:
        for i in range(self.start_at, self.start_at + self.count):
            self.emitter.metric("stream", i, time=BASE_MS + i)
            self.sent += 1
            if i % 2000 == 0:
                time.sleep(0.005)  # a busy service, not a flood: the outage falls mid-stream


def test_an_outage_mid_stream_loses_nothing(numbatd, influxd, tmp_path) -> None:
    port = free_port()
    daemon = numbatd(f'state_dir = "{tmp_path}/state"\n' + tcp_listener(port) + influx_sink(influxd))
    total = 200_000
    sender = Sender(port, total)
    sender.start()
    assert wait_for(lambda: influxd.count("o.stream", "v1db") > 20_000, 60)
    influxd.stop()
    outage_started = time.monotonic()
    assert wait_for(lambda: daemon.metric("numbat_sink_spooled_events_total") > 0, 30)
    time.sleep(max(0.0, 3 - (time.monotonic() - outage_started)))  # several seconds down
    influxd.start()
    sender.join(120)
    assert sender.emitter.close(timeout=30)
    assert wait_for(lambda: influxd.count("o.stream", "v1db") == total, 120), influxd.count("o.stream", "v1db")
    assert wait_for(lambda: daemon.metric("numbat_sink_spool_events") == 0, 30)
    assert daemon.metric("numbat_sink_replayed_events_total") == daemon.metric("numbat_sink_spooled_events_total")
    assert daemon.metric("numbat_sink_dropped_events_total") == 0
    # each event acknowledged once: sent straight away or replayed from the spool
    assert daemon.metric("numbat_sink_delivered_events_total") == total
    assert time.time() - 120 < daemon.metric("numbat_sink_last_delivery_timestamp_seconds") <= time.time()
    assert daemon.stop() == 0


def test_sigterm_while_influxdb_is_down_then_restart_lands_everything(numbatd, influxd, tmp_path) -> None:
    port = free_port()
    config = f'state_dir = "{tmp_path}/state"\n' + tcp_listener(port) + influx_sink(influxd)
    influxd.stop()
    first = numbatd(config)
    sender = Sender(port, 30_000)
    sender.start()
    assert wait_for(lambda: sender.sent > 10_000, 30)
    assert first.stop() == 0  # mid-stream: the emitter keeps its backlog and reconnects
    stopped = next(e for e in first.logs() if e["message"] == "numbatd stopped")
    accepted = stopped["decoded"]
    assert accepted > 0
    assert stopped["sinks"]["influx"]["spooled_for_replay"] == accepted  # what waits for InfluxDB, said
    away = next(e for e in first.logs() if e["message"] == "InfluxDB unavailable; spooling")
    assert away["error"] == f"connection refused by 127.0.0.1:{influxd.port}"  # an operator's words
    second = numbatd(config)
    sender.join(60)
    assert sender.emitter.close(timeout=30)
    influxd.start()
    # every event the first numbatd accepted, plus every event the second one accepted
    assert wait_for(
        lambda: second.metric("numbat_sink_spool_events") == 0 and influxd.count("o.stream", "v1db") > 0, 60
    )
    assert second.stop() == 0
    accepted += next(e["decoded"] for e in second.logs()[::-1] if e["message"] == "numbatd stopped")
    assert influxd.count("o.stream", "v1db") == accepted
    assert accepted <= 30_000


def spool_while_down(numbatd, influxd, config: str, port: int, count: int):
    """With InfluxDB stopped, start numbatd and send ``count`` events until all are spooled."""
    influxd.stop()
    daemon = numbatd(config)
    with emitter.Emitter(f"tcp://127.0.0.1:{port}", app="o", max_backlog=count, **FAST) as e:
        for i in range(count):
            e.metric("stream", i, time=BASE_MS + i)
    assert wait_for(lambda: daemon.metric("numbat_sink_spooled_events_total") == count, 30)
    return daemon


def test_kill_9_while_spooling_loses_nothing_the_spool_acknowledged(numbatd, influxd, tmp_path) -> None:
    # Loss bound: with fsync = "always" a record is on disk before the next batch is
    # taken, so kill -9 costs at most what was still queued in memory. This test waits
    # until everything is spooled, so that bound is zero events.
    port = free_port()
    config = (
        f'state_dir = "{tmp_path}/state"\n'
        + tcp_listener(port)
        + influx_sink(influxd, extra='spool = { fsync = "always" }')
    )
    count = 20_000
    first = spool_while_down(numbatd, influxd, config, port, count)
    first.signal(signal.SIGKILL)
    first.process.wait(10)  # type: ignore[union-attr]
    influxd.start()
    second = numbatd(config)
    assert wait_for(lambda: influxd.count("o.stream", "v1db") == count, 60)
    # the counter moves once InfluxDB's answer is read, which may be after the query sees the points
    assert wait_for(lambda: second.metric("numbat_sink_replayed_events_total") == count, 10)
    assert second.stop() == 0


def test_a_corrupt_spool_is_skipped_where_damaged_and_replayed_elsewhere(numbatd, influxd, tmp_path) -> None:
    port = free_port()
    state = tmp_path / "state"
    config = (
        f'state_dir = "{state}"\n'
        + tcp_listener(port)
        + influx_sink(influxd, batch_size=1000, extra="spool = { segment_bytes = 200000, max_bytes = 100000000 }")
    )
    count = 20_000
    first = spool_while_down(numbatd, influxd, config, port, count)
    assert first.stop() == 0
    segments = sorted((state / "influx" / "spool").glob("*.spool"))
    assert len(segments) >= 3
    middle = bytearray(segments[1].read_bytes())
    middle[len(middle) // 2] ^= 0xFF  # a flipped byte in the middle segment
    segments[1].write_bytes(bytes(middle))
    with open(segments[-1], "r+b") as last:  # and a torn tail on the last one
        last.truncate(segments[-1].stat().st_size - 100)
    influxd.start()
    second = numbatd(config)
    assert wait_for(lambda: second.metric("numbat_sink_spool_events") == 0, 60)
    landed = influxd.count("o.stream", "v1db")
    assert second.metric("numbat_sink_spool_damaged_total") >= 1
    assert count - 3 * 1000 <= landed < count  # two damaged records of at most 1000 events each
    assert second.stop() == 0


def test_a_point_influxdb_refuses_does_not_sink_its_batch(numbatd, influxd, tmp_path) -> None:
    port = free_port()
    daemon = numbatd(
        f'state_dir = "{tmp_path}/state"\n[[listeners]]\nurl = "tcp://127.0.0.1:{port}"\nformat = "influx"\n'
        'precision = "ms"\n' + influx_sink(influxd)
    )
    with socket.create_connection(("127.0.0.1", port)) as connection:
        connection.sendall(b"p.mixed value=0.5 %d\n" % BASE_MS)
        assert wait_for(lambda: influxd.count("p.mixed", "v1db") == 1)
        # one batch of 99 points, one a string among floats: a field type conflict for it alone
        lines = [
            b'p.mixed value="oops" %d' % (BASE_MS + i) if i == 50 else b"p.mixed value=%d.5 %d" % (i, BASE_MS + i)
            for i in range(1, 100)
        ]
        connection.sendall(b"\n".join(lines) + b"\n")
    assert wait_for(lambda: influxd.count("p.mixed", "v1db") == 99)
    assert wait_for(lambda: daemon.metric("numbat_sink_skipped_events_total", reason="refused by the store") == 1)
    assert "oops" not in {p["value"] for p in influxd.points("p.mixed", "v1db")}
    refusals = [e for e in daemon.logs() if e["message"] == "InfluxDB refused a point"]
    assert refusals[0]["reason"].startswith("400")
    assert "oops" in refusals[0]["line"]
    assert daemon.stop() == 0


def test_the_cardinality_guard_drops_new_series_past_the_limit(numbatd, influxd, tmp_path) -> None:
    port = free_port()
    daemon = numbatd(
        f'state_dir = "{tmp_path}/state"\n'
        + tcp_listener(port)
        + influx_sink(influxd, extra="max_series_per_measurement = 10")
    )
    with emitter.Emitter(f"tcp://127.0.0.1:{port}", app="c", **FAST) as e:
        for i in range(30):
            e.metric("requests", 1.0, time=BASE_MS + i, request_id=f"r{i}")  # a new series each
        for i in range(30):
            e.metric("calm", 1.0, time=BASE_MS + i, route=f"/{i % 5}")  # five series, under the limit
    assert wait_for(lambda: influxd.count("c.calm", "v1db") == 30)
    refused = {"reason": "cardinality: series per measurement"}
    assert wait_for(lambda: daemon.metric("numbat_sink_skipped_events_total", **refused) == 20)
    series = influxd.query('SHOW SERIES FROM "c.requests"', "v1db")[0]["values"]
    assert len(series) == 10
    assert influxd.count("c.requests", "v1db") == 10
    assert daemon.stop() == 0


def send_names(port: int, first: int, count: int) -> None:
    """``count`` events, each of a new name, as numbat JSON over one TCP connection."""
    lines = b"".join(
        b'{"name":"c.flood.%d.latency","value":1.5,"time":%d,"host":"h"}\n' % (i, BASE_MS + i)
        for i in range(first, first + count)
    )
    with socket.create_connection(("127.0.0.1", port)) as connection:
        connection.sendall(lines)


def test_a_flood_of_names_is_bounded_in_influxdb_and_in_numbatd(numbatd, influxd, tmp_path) -> None:
    port = free_port()
    daemon = numbatd(
        f'state_dir = "{tmp_path}/state"\n' + tcp_listener(port) + influx_sink(influxd, extra="max_measurements = 300")
    )
    rounds, per_round = 3, 60_000
    memory = []
    for round_ in range(rounds):
        send_names(port, round_ * per_round, per_round)
        done = (round_ + 1) * per_round
        assert wait_for(lambda done=done: daemon.metric("numbat_sink_written_events_total") == done, 60)
        assert wait_for(
            lambda done=done: daemon.metric("numbat_sink_delivered_events_total") == done - (done - 300), 60
        )
        memory.append(daemon.metric("process_resident_memory_bytes"))
    measurements = influxd.query("SHOW MEASUREMENTS", "v1db")[0]["values"]
    assert len(measurements) == 300
    refused = {"reason": "cardinality: measurements"}
    assert daemon.metric("numbat_sink_skipped_events_total", **refused) == rounds * per_round - 300
    warnings = [e for e in daemon.logs() if e["message"] == "cardinality limit reached: new points dropped"]
    assert [(w["pattern"], w["limit"]) for w in warnings] == [("c.flood.*.latency", "cardinality: measurements")]
    # every cache is bounded: once full, more new names cost numbatd no more memory
    assert memory[2] - memory[1] < 8 * 2**20, memory
    assert daemon.stop() == 0
