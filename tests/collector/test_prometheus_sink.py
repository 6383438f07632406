"""What the prometheus sink makes of each kind of event: statsd's types, untyped events,
an aggregation's summaries; labels; expiry; the series bound; conflicts that must not
break the page; the self-metrics that count all of it."""

from __future__ import annotations

import math
import random
import signal
import socket
import urllib.request
from typing import Any

import pytest
import trio
from hypothesis import given, settings
from hypothesis import strategies as st

from collector.observe import SelfMetrics
from collector.sinks.prometheus import PrometheusSink

from ..waiting import wait_for
from .exposition import absorb, batch, check_page, parse_page, prometheus_sink
from .numbatd import free_port


def page(sink: PrometheusSink, now: float = 0.0) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    text = sink.render(now)
    check_page(text)
    return parse_page(text)


def labels(**pairs: str) -> frozenset[tuple[str, str]]:
    return frozenset(pairs.items())


def statsd(name: str, value: float, kind: str, **fields: Any) -> dict[str, Any]:
    return {"name": name, "value": value, "time": 0, "statsd_type": kind, **fields}


def test_statsd_counters_gauges_and_timers() -> None:
    sink = prometheus_sink(observer_type="histogram", buckets=[0.01, 0.1, 1])
    skipped = absorb(
        sink,
        [
            statsd("hits", 3, "c"),
            statsd("hits", 2, "c", rate=0.5),  # 2 sampled at one in two: 4
            statsd("temp", 20, "g"),
            statsd("temp", -5, "g", gauge_delta=True),  # statsd's "-5": a change
            statsd("lat", 50, "ms"),  # 50 ms: 0.05 s
            statsd("lat", 500, "ms", rate=0.25),  # observed 4 times
            statsd("size", 0.5, "h"),  # h and d keep their unit
        ],
    )
    assert skipped == {}
    got = page(sink)
    assert got[("hits_total", labels())] == 7
    assert got[("temp", labels())] == 15
    assert got[("lat_bucket", labels(le="0.01"))] == 0
    assert got[("lat_bucket", labels(le="0.1"))] == 1
    assert got[("lat_bucket", labels(le="1"))] == 5
    assert got[("lat_bucket", labels(le="+Inf"))] == 5
    assert got[("lat_count", labels())] == 5
    assert got[("lat_sum", labels())] == pytest.approx(0.05 + 4 * 0.5)
    assert got[("size_bucket", labels(le="1"))] == 1
    assert got[("size_sum", labels())] == 0.5


def test_what_has_no_place_on_the_page_is_skipped_and_counted() -> None:
    metrics = SelfMetrics()
    sink = prometheus_sink(metrics=metrics)
    events = [
        statsd("users", "alice", "s"),  # sets need an aggregation
        {"name": "event", "value": 1, "time": 0, "statsd_type": "e", "title": "deploy"},  # DogStatsD event
        statsd("hits", -1, "c"),  # a counter never goes down
        {"name": "text", "value": "high", "time": 0},  # an Influx string field
        {"name": "", "value": 1, "time": 0},
        {"name": "x", "value": 1, "time": 0, "tag": "v" * 2000},  # past max_text_length
        statsd("check", 2, "sc", status="critical"),  # a service check: a gauge of its status
    ]
    trio.run(sink.write, batch(*events))
    assert metrics.values(metrics.skipped, "reason", sink="prometheus") == {
        "statsd set": 1,
        "not a metric": 1,
        "negative counter": 1,
        "not a number": 1,
        "empty name": 1,
        "too long": 1,
    }
    assert page(sink)[("check", labels(status="critical"))] == 2


def test_untyped_events_take_their_rules_type() -> None:
    sink = prometheus_sink(
        mappings=[
            {"match": "jobs.*.done", "name": "jobs_done", "labels": {"job": "$1"}, "metric_type": "counter"},
            {"match": "jobs.*.seconds", "name": "job_seconds", "metric_type": "observer", "observer_type": "histogram"},
        ]
    )
    absorb(
        sink,
        [
            {"name": "jobs.backup.done", "value": 1, "time": 0},
            {"name": "jobs.backup.done", "value": 2, "time": 0},
            {"name": "jobs.x.seconds", "value": 0.2, "time": 0},
            {"name": "load", "value": 0.7, "time": 0},
            {"name": "load", "value": 0.4, "time": 0},
        ],
    )
    got = page(sink)
    assert got[("jobs_done_total", labels(job="backup"))] == 3
    assert got[("job_seconds_bucket", labels(le="0.25"))] == 1
    assert got[("job_seconds_count", labels())] == 1
    assert got[("load", labels())] == 0.4  # no rule: a gauge of the last value


def test_labels_from_fields_and_rules() -> None:
    rules = [
        {"match": "api.*.calls", "name": "calls", "labels": {"service": "$1", "host": "rule"}},
        {"match": "web.*.calls", "name": "web_calls", "labels": {"host": "default"}, "honor_labels": True},
        {"match": "lat.*", "name": "lat", "labels": {"le": "$1"}, "observer_type": "histogram"},
    ]
    sink = prometheus_sink(mappings=rules)
    absorb(
        sink,
        [
            {"name": "api.search.calls", "value": 1, "time": 0, "host": "h1", "my.tag": "x", "empty": "", "__n": 1},
            {"name": "web.a.calls", "value": 1, "time": 0, "host": "h2"},
            {"name": "web.a.calls", "value": 1, "time": 0},
            {"name": "lat.x", "value": 1, "time": 0, "statsd_type": "h", "quantile": "q"},
            {"name": "note", "value": 1, "time": 0, "description": "free text", "ttl": 30000, "ok": True, "n": 1.5},
        ],
    )
    got = page(sink)
    # the rule's label wins over the field's; names made valid; empty values left out
    assert ("calls", labels(service="search", host="rule", my_tag="x", _n="1")) in got
    # honor_labels: the field wins, the rule's label is the default
    assert ("web_calls", labels(host="h2")) in got
    assert ("web_calls", labels(host="default")) in got
    # le is the histogram's own: the rule's le label is written exported_le
    assert ("lat_count", labels(exported_le="x", quantile="q")) in got
    # description and ttl are not labels by default; booleans and floats are written as JSON writes them
    assert ("note", labels(ok="true", n="1.5")) in got
    only = prometheus_sink(label_fields=["host"])
    absorb(only, [{"name": "x", "value": 1, "time": 0, "host": "h", "other": "o"}])
    assert ("x", labels(host="h")) in page(only)


def test_a_family_may_hold_series_of_different_label_sets() -> None:
    """Where client_golang's registry refuses (statsd_exporter answered 500), each label
    set is a series of its own under one HELP and TYPE: Prometheus takes that."""
    sink = prometheus_sink()
    absorb(
        sink,
        [
            statsd("req", 1, "c", host="a"),
            statsd("req", 1, "c", host="a", code="200"),
            statsd("req", 1, "c"),
        ],
    )
    text = sink.render(0.0).decode()
    assert text.count("# TYPE req_total counter") == 1
    assert set(page(sink)) == {
        ("req_total", labels(host="a")),
        ("req_total", labels(host="a", code="200")),
        ("req_total", labels()),
    }


def test_conflicting_types_and_names_never_break_the_page() -> None:
    metrics = SelfMetrics()
    sink = prometheus_sink(observer_type="summary", metrics=metrics)
    events = [
        statsd("x", 1, "g"),
        statsd("x", 1, "c"),  # x is a gauge: a counter x_total is another family, fine
        statsd("x", 1, "ms"),  # a summary x: the gauge x holds the name
        statsd("y", 1, "ms"),  # a summary y claims y, y_sum and y_count
        statsd("y_count", 1, "g"),  # so a gauge y_count cannot be
        statsd("y.count", 1, "g"),  # nor one that becomes y_count
    ]
    trio.run(sink.write, batch(*events))
    assert metrics.values(metrics.skipped, "reason", sink="prometheus") == {"type conflict": 1, "name taken": 2}
    assert set(page(sink)) >= {("x", labels()), ("x_total", labels()), ("y_count", labels())}


def test_series_expire_after_their_ttl() -> None:
    metrics = SelfMetrics()
    rules = [{"match": "short.*", "name": "short", "ttl": 2}, {"match": "ever", "name": "ever", "ttl": 0}]
    sink = prometheus_sink(ttl=10, mappings=rules, metrics=metrics)
    absorb(sink, [{"name": n, "value": 1, "time": 0} for n in ("short.a", "long", "ever")], now=0.0)
    absorb(sink, [{"name": "long", "value": 2, "time": 0}], now=9.0)  # updated: its ttl starts again
    assert set(page(sink, 1.9)) == {("short", labels()), ("long", labels()), ("ever", labels())}
    assert set(page(sink, 2.0)) == {("long", labels()), ("ever", labels())}
    assert set(page(sink, 18.9)) == {("long", labels()), ("ever", labels())}
    assert set(page(sink, 19.0)) == {("ever", labels())}
    assert set(page(sink, 1e6)) == {("ever", labels())}
    assert metrics.values(metrics.expired_series, sink="prometheus") == {"": 2}
    # what expired comes back, from zero, when it is sent again
    absorb(sink, [statsd("long", 5, "c")], now=20.0)
    assert page(sink, 20.0)[("long_total", labels())] == 5


def test_the_series_bound() -> None:
    metrics = SelfMetrics()
    sink = prometheus_sink(max_series=3, ttl=5, metrics=metrics)
    assert absorb(sink, [statsd("c", 1, "c", id=str(i)) for i in range(5)], now=0.0) == {"series limit": 2}
    assert len(page(sink)) == 3
    assert metrics.registry.get_sample_value("numbat_sink_series", {"sink": "prometheus", "type": "prometheus"}) == 3
    absorb(sink, [statsd("c", 1, "c", id="0")], now=1.0)  # a series on the page still counts
    assert page(sink, 1.0)[("c_total", labels(id="0"))] == 2
    sink.expire(5.5)  # two went: room for two new ones
    absorb(sink, [statsd("c", 1, "c", id=str(i)) for i in range(10, 14)], now=5.5)
    assert {dict(key[1])["id"] for key in page(sink, 5.5)} == {"0", "10", "11"}


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(1e-6, 1e6), min_size=1, max_size=300), st.sampled_from([0.5, 0.9, 0.99, 0.0, 1.0]))
def test_summary_quantiles_are_within_one_percent(samples: list[float], quantile: float) -> None:
    """A summary's quantile is the value at its rank (nearest rank) within 1 %, the
    DDSketch's guarantee; windows spread over its max_age merge."""
    sink = prometheus_sink(quantiles=[quantile], summary_max_age=60, summary_age_buckets=3)
    for i, sample in enumerate(samples):
        absorb(sink, [statsd("t", sample * 1000, "ms")], now=i * 50 / len(samples))
    ordered = sorted(samples)
    exact = ordered[max(0, math.ceil(quantile * len(ordered)) - 1)]
    got = page(sink, 50.0)
    assert got[("t", labels(quantile=str(quantile).removesuffix(".0")))] == pytest.approx(exact, rel=0.0101)
    assert got[("t_count", labels())] == len(samples)
    assert got[("t_sum", labels())] == pytest.approx(math.fsum(samples))


def test_summary_windows_age_out() -> None:
    sink = prometheus_sink(summary_max_age=30, summary_age_buckets=3)
    absorb(sink, [statsd("t", 1000, "ms")], now=0.0)
    absorb(sink, [statsd("t", 3000, "ms")], now=15.0)
    assert page(sink, 15.0)[("t", labels(quantile="0.99"))] == 3.0
    assert page(sink, 15.0)[("t", labels(quantile="0.5"))] == 1.0
    assert page(sink, 31.0)[("t", labels(quantile="0.5"))] == 3.0  # the first window went
    got = page(sink, 60.0)
    assert math.isnan(got[("t", labels(quantile="0.5"))])  # nothing in the window
    assert got[("t_count", labels())] == 2  # count and sum are for all time


def summary(name: str, kind: str, **fields: Any) -> dict[str, Any]:
    return {"name": name, "time": 1_700_000_000_000, "kind": kind, **fields}


def test_an_aggregations_summaries() -> None:
    sink = prometheus_sink(
        input="10s",
        mappings=[{"match": "h.*", "name": "h_seconds", "observer_type": "histogram", "scale": 0.001}],
    )
    flush = [
        summary("req", "counter", count=30.0, rate=3.0, host="a"),
        summary("req", "counter", count=12.0, rate=1.2, host="a"),
        summary("temp", "gauge", value=21.5),
        summary("users", "set", count=4.0),
        summary("t", "timer", count=10.0, count_ps=1.0, sum=100.0, upper_50=8.0, median=9.0, upper_90=17.0,
                upper_99_9=19.5, mean=10.0, lower=1.0, upper=20.0, std=5.0, sum_squares=1300.0, key_count="k"),
        summary("h.x", "timer", count=6.0, sum=600.0, bin_100=2.0, bin_200=3.0, bin_inf=1.0),
        summary("h.x", "timer", count=3.0, sum=150.0, bin_100=3.0, bin_200=0.0, bin_inf=0.0),
    ]  # fmt: skip
    assert absorb(sink, flush) == {}
    got = page(sink)
    assert got[("req_total", labels(host="a"))] == 42
    assert got[("temp", labels())] == 21.5
    assert got[("users", labels())] == 4
    assert got[("t", labels(quantile="0.5", key_count="k"))] == 9.0  # the median, not upper_50
    assert got[("t", labels(quantile="0.9", key_count="k"))] == 17.0
    assert got[("t", labels(quantile="0.999", key_count="k"))] == 19.5
    assert got[("t_count", labels(key_count="k"))] == 10
    assert got[("t_sum", labels(key_count="k"))] == 100
    assert got[("h_seconds_bucket", labels(le="0.1"))] == 5  # statsd's bins in ms, scaled to seconds
    assert got[("h_seconds_bucket", labels(le="0.2"))] == 8
    assert got[("h_seconds_bucket", labels(le="+Inf"))] == 9
    assert got[("h_seconds_count", labels())] == 9
    assert got[("h_seconds_sum", labels())] == pytest.approx(0.75)


def test_the_page_is_rendered_again_only_when_something_changed() -> None:
    sink = prometheus_sink()
    absorb(sink, [statsd("a", 1, "g")])
    first = sink.render(0.0)
    assert sink.render(0.5) is first
    assert sink.render(1.5) is not first  # at most a second old
    absorb(sink, [statsd("a", 2, "g")], now=1.6)
    assert b"a 2.0" in sink.render(1.7)


# -- the page over HTTP --------------------------------------------------------------------------


async def request(port: int, raw: bytes, read: bool = True) -> bytes:
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    await stream.send_all(raw)
    data = b""
    if read:
        with trio.move_on_after(5):
            while chunk := await stream.receive_some(1 << 16):
                data += chunk
    await stream.aclose()
    return data


def serve(sink: PrometheusSink, test: Any) -> None:
    async def main() -> None:
        await sink.open()
        try:
            async with trio.open_nursery() as nursery:
                await nursery.start(sink.maintain)
                await test(sink.server.port)
                nursery.cancel_scope.cancel()
        finally:
            await sink.close()

    trio.run(main)


def test_the_page_over_http() -> None:
    metrics = SelfMetrics()
    sink = prometheus_sink(path="/metrics", max_connections=2, read_timeout=0.5, metrics=metrics)
    absorb(sink, [statsd(f"m{i}", i, "g", host="x" * 20) for i in range(100)])

    async def test(port: int) -> None:
        answer = await request(port, b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200")
        assert b"content-type: text/plain; version=0.0.4; charset=utf-8" in head.lower()
        assert body == sink.render(trio.current_time())
        # two requests on one connection (keep-alive), the second gzipped
        answer = await request(
            port,
            b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"
            b"GET /metrics?x=1 HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n",
        )
        assert answer.count(b"HTTP/1.1 200") == 2
        assert b"content-encoding: gzip" in answer.lower()
        head = await request(port, b"HEAD /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200")
        assert head.endswith(b"\r\n\r\n")  # no body
        assert (await request(port, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")).startswith(
            b"HTTP/1.1 404"
        )
        post = b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        assert (await request(port, post)).startswith(b"HTTP/1.1 405")
        assert (await request(port, b"nonsense\r\n\r\n")).startswith(b"HTTP/1.1 400")
        # two idle connections hold max_connections: a third is closed unanswered, counted
        idle = [await trio.open_tcp_stream("127.0.0.1", port) for _ in range(2)]
        await trio.sleep(0.1)
        assert await request(port, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n") == b""
        # a request that does not arrive within read_timeout: the connection closes
        with trio.fail_after(2):
            assert await idle[0].receive_some(100) == b""
        for stream in idle:
            await stream.aclose()

    serve(sink, test)
    by_status = metrics.values(metrics.page_requests, "status", sink="prometheus")
    assert by_status == {"200": 4, "404": 1, "405": 1, "400": 1, "refused": 1}


def test_a_taken_address_stops_the_sink_at_open() -> None:
    sink = prometheus_sink()

    async def test(port: int) -> None:
        other = prometheus_sink(listen=f"127.0.0.1:{port}")
        with pytest.raises(OSError, match="in use"):
            await other.open()
        await other.close()

    serve(sink, test)


def test_a_write_never_raises_for_what_events_hold() -> None:
    """The runner writes a batch's halves again when write raises a content error: the
    first half's counters would count twice. So the sink skips such events itself."""
    sink = prometheus_sink()
    events = [statsd("c", 1, "c"), {"name": "weird", "value": 10**400, "time": 0}, statsd("c", 1, "c")]
    random.shuffle(events)
    trio.run(sink.write, batch(*events))
    assert page(sink)[("c_total", labels())] == 2


def test_a_reload_keeps_an_unchanged_page_and_empties_a_changed_one(numbatd, tmp_path) -> None:
    udp, port = free_port(), free_port()
    config = (
        f'[[listeners]]\nurl = "udp://127.0.0.1:{udp}"\nformat = "statsd"\n'
        f'[[sinks]]\ntype = "prometheus"\nlisten = "127.0.0.1:{port}"\n'
    )
    daemon = numbatd(config)
    url = f"http://127.0.0.1:{port}/metrics"

    def counted() -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
        with urllib.request.urlopen(url, timeout=5) as response:
            text = response.read()
        check_page(text)
        return parse_page(text)

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(b"hits:3|c", ("127.0.0.1", udp))
    assert wait_for(lambda: counted().get(("hits_total", labels())) == 3)
    for applied, change in enumerate(["", "ttl = 60\n"], start=1):
        daemon.write_config(config + change)
        daemon.signal(signal.SIGHUP)
        assert wait_for(
            lambda applied=applied: daemon.metric("numbat_config_reloads_total", result="applied") == applied
        )
        if not change:
            assert counted()[("hits_total", labels())] == 3  # the same sink: its page stays
    assert wait_for(lambda: ("hits_total", labels()) not in counted())  # a new sink: a new, empty page
