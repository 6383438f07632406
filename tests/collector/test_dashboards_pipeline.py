"""Every panel of deploy/grafana/dashboards/ run against the real servers, loaded by the
real pipeline with known data, returns the series it should.

The pipeline: a real numbatd (listeners numbat JSON on TCP and statsd on UDP; an
aggregation of the registry's timer ``registry.request.latency``; an InfluxDB sink of raw
events for numbat-logs' figures, one of the aggregation's summaries, and a forward sink
whose peer is away, so that its spool fills and drops) with its self-metrics scraped by a
real Prometheus (job ``numbatd``, every second), writing to a real InfluxDB 1.6; a real
``numbat-logs live`` reading a JSON CDN log on stdin and sending its figures to numbatd.
The known data goes in in two rounds, the second once Prometheus has scraped the first (a
series' first sample is no increase to Prometheus's rate). The Prometheus panels are queried while numbatd runs; then
numbatd stops, which flushes the aggregation's interval (a day long, so it flushes once),
and the InfluxDB panels are queried.

Grafana is not here: each query has its macros replaced as Grafana replaces them
(tests/grafana_dashboards.py: ``$timeFilter``, ``$__interval``, ``$__interval_ms``,
``$__rate_interval``, the ``$instance`` variable at "All"), then is sent as Grafana sends
it: PromQL as a range query with the panel's interval as its step, InfluxQL to /query.
Expected figures come from the data the test sends (percentiles by statsd's rule, written
out here), or, for counters whose labels the daemon chooses (reasons), from numbatd's own
/metrics page: the dashboard must show what the daemon counted.
"""

from __future__ import annotations

import itertools
import json
import math
import re
import socket
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from ..grafana_dashboards import DASHBOARD_FILES, influxql, load, panel_interval, promql, queries
from ..processes import terminate
from ..waiting import wait_for
from .influxd import Influxd
from .numbatd import Numbatd, free_port
from .prometheus_server import PrometheusServer, scrape_config

pytestmark = pytest.mark.slow

#: The counters the rate panels show, whose raw samples are read back to check them.
COUNTERS = (
    "numbat_listener_decoded_events_total",
    "numbat_listener_received_bytes_total",
    "numbat_listener_rejected_lines_total",
    "numbat_sink_written_events_total",
    "numbat_sink_delivered_events_total",
    "numbat_sink_dropped_events_total",
    "numbat_sink_skipped_events_total",
    "numbat_aggregation_events_total",
)
RULES = Path(__file__).parents[2] / "deploy" / "prometheus" / "numbat.rules.yml"
#: The recording rules, read back with the daemon running.
RECORDED = (
    "instance_listener:numbat_listener_received_messages:rate5m",
    "instance_listener:numbat_listener_decoded_events:rate5m",
    "instance_listener:numbat_listener_rejected_lines:rate5m",
    "instance_sink_cause:numbat_sink_dropped_events:rate5m",
    "instance_sink:numbat_sink_delivery_lag_seconds",
)
#: The series names a family of each type has, samples or not (a counter's name alone is none).
SERIES_SUFFIXES = {
    "counter": ("_total",),
    "histogram": ("_bucket", "_sum", "_count"),
    "summary": ("", "_sum", "_count"),
}
SCRAPE = 1.0  #: Prometheus's scrape interval here, and so the datasource's timeInterval in $__rate_interval
PROMETHEUS_STEP = 1.0  #: the range queries' step before each panel's minimum applies
INFLUX_STEPS = (10.0, 300.0)  #: the InfluxQL queries run at both: a bucket of one flush, and one of many
ROUNDS = 2

#: The registry's requests: (host, route, status class) -> latencies in ms, sent half per round.
REQUESTS: dict[tuple[str, str, str], list[float]] = {
    ("api-1", "search", "2xx"): [12, 15, 20, 22, 30, 35, 41, 50, 64, 120],
    ("api-2", "search", "2xx"): [9, 11, 13, 17, 19, 23, 29, 31, 37, 47, 53, 59],
    ("api-2", "search", "4xx"): [3, 4, 5, 6],
    ("api-1", "tarball", "2xx"): [2, 3, 3, 4, 5, 8, 13, 21, 34, 55, 89, 144, 233, 377],
    ("api-1", "tarball", "5xx"): [150, 160],
}

#: numbat-logs live's input per round: JSON CDN log lines (one write each, under PIPE_BUF,
#: so a round lands in one flush and its cache hit ratio is the round's).
LOG_REQUESTS = [
    ("GET", "/left-pad/-/left-pad-1.3.0.tgz", 200, 1000, "HIT"),
    ("GET", "/left-pad/-/left-pad-1.3.0.tgz", 200, 1000, "HIT"),
    ("GET", "/@scope/pkg/-/pkg-2.0.0.tgz", 200, 3000, "HIT"),
    ("GET", "/express/-/express-4.18.2.tgz", 200, 5000, "MISS"),
    ("GET", "/express", 200, 700, "HIT"),  # metadata: a request, no download
    ("HEAD", "/express/-/express-4.18.2.tgz", 200, 0, "HIT"),
    ("GET", "/express/-/express-4.18.2.tgz", 304, 0, "HIT"),
    ("GET", "/nope/-/nope-1.0.0.tgz", 404, 150, "MISS"),
    ("GET", "/express/-/express-4.18.2.tgz", 503, 90, "MISS"),
]
BAD_LOG_LINE = "this is no JSON object"


def statsd_upper(values: list[float], percentile: float) -> float | None:
    """statsd's upper_P: the largest of the round(P/100 * n) smallest values (half up, as
    JavaScript rounds), None when that is no value."""
    ordered = sorted(values)
    kept = math.floor(percentile / 100 * len(ordered) + 0.5)
    return ordered[kept - 1] if kept else None


def is_download(method: str, path: str, status: int) -> bool:
    return method == "GET" and status == 200 and path.endswith(".tgz")


@dataclass
class Observed:
    """What the panels' queries returned, and what the daemon said of itself meanwhile."""

    instance: str
    prometheus: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  #: panel title -> series
    #: (panel title, step) -> series, and that query's $__interval in seconds
    influx: dict[tuple[str, float], list[dict[str, Any]]] = field(default_factory=dict)
    intervals: dict[tuple[str, float], float] = field(default_factory=dict)
    page: dict[str, list[tuple[dict[str, str], float]]] = field(default_factory=dict)  #: numbatd's /metrics
    families: set[str] = field(default_factory=set)  #: the series names the page declares, samples or not
    alerts: list[dict[str, Any]] = field(default_factory=list)  #: ALERTS, with deploy/prometheus's rules loaded
    recorded: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  #: recording rule -> its series
    #: counter -> (labels, last sample - first sample) of each series Prometheus scraped in the test's range
    increases: dict[str, list[tuple[dict[str, str], float]]] = field(default_factory=dict)
    captured_at: float = 0.0

    def page_values(self, name: str) -> list[tuple[dict[str, str], float]]:
        return self.page.get(name, [])


def parse_page(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    samples: dict[str, list[tuple[dict[str, str], float]]] = defaultdict(list)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[sample.name].append((dict(sample.labels), sample.value))
    return samples


def numbatd_config(influx: str, numbat_port: int, statsd_port: int, dead_port: int) -> str:
    return f"""
[[listeners]]
url = "tcp://127.0.0.1:{numbat_port}"
format = "numbat"
name = "numbat-tcp"

[[listeners]]
url = "udp://127.0.0.1:{statsd_port}"
format = "statsd"
name = "statsd-udp"

[[aggregations]]
name = "registry"
interval = 86400
percentiles = [50, 90, 99]

[[aggregations.rules]]
match = "registry.request.latency"
kind = "timer"
key_fields = ["host", "route", "status_class"]

[[sinks]]
type = "influxdb"
name = "influx"
api = "v1"
url = "{influx}"
database = "numbat"
include = ["numbat-logs."]
flush_interval = 0.2

[[sinks]]
type = "influxdb"
name = "influx-summaries"
input = "registry"
api = "v1"
url = "{influx}"
database = "statsd"
flush_interval = 0.2

[[sinks]]
type = "forward"
name = "analyzer"
url = "tcp://127.0.0.1:{dead_port}"
include = ["load."]
retry_base = 0.05
retry_cap = 0.2
spool = {{ max_bytes = 65536, segment_bytes = 16384 }}
"""


def send_tcp(port: int, lines: list[str]) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall("".join(line + "\n" for line in lines).encode())


def registry_round(round_index: int) -> list[str]:
    lines = []
    for (host, route, status_class), latencies in REQUESTS.items():
        half = len(latencies) // 2
        part = latencies[:half] if round_index == 0 else latencies[half:]
        for latency in part:
            event = {"name": "registry.request.latency", "value": latency, "host": host, "route": route}
            lines.append(json.dumps({**event, "status_class": status_class}))
    return lines


def log_round() -> bytes:
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    lines = [
        json.dumps({"time": now, "method": method, "url": path, "status": status, "bytes": size, "cache": cache})
        for method, path, status, size, cache in LOG_REQUESTS
    ]
    data = "\n".join([*lines, BAD_LOG_LINE]).encode() + b"\n"
    assert len(data) < 4096  # one atomic pipe write
    return data


#: Counters a round moves, with how much each round adds at least (None: some).
ROUND_COUNTERS: dict[str, float | None] = {
    "numbat_listener_rejected_lines_total": 2,  # a bad numbat line, a bad statsd line
    "numbat_sink_skipped_events_total": 1,  # a heartbeat
    "numbat_aggregation_events_total": sum(len(latencies) // 2 for latencies in REQUESTS.values()),
    "numbat_listener_decoded_events_total": None,
    "numbat_sink_dropped_events_total": None,
}


def scraped_after(daemon: Numbatd, prometheus: PrometheusServer, rounds: int) -> None:
    """Wait until numbatd has counted ``rounds`` rounds, then until Prometheus has scraped
    what its page says."""

    def counted() -> bool:
        return all(daemon.metric(name) >= rounds * least for name, least in ROUND_COUNTERS.items() if least)

    assert wait_for(counted, 30), daemon.stderr()
    time.sleep(0.3)  # what else the round sent (numbat-logs live's flush)
    page = {name: daemon.metric(name) for name in ROUND_COUNTERS}

    def scraped() -> bool:
        shown = {name: prometheus.query(f'sum({name}{{job="numbatd"}})') for name in ROUND_COUNTERS}
        return all(shown[name] and shown[name][0]["value"] >= value for name, value in page.items())

    assert wait_for(scraped, 30), page


def wait_past_a_day_boundary() -> None:
    """The aggregation's day-long interval must not end during the test (it would flush twice)."""
    left = 86400 - time.time() % 86400
    if left < 120:
        time.sleep(left + 1)


@pytest.fixture(scope="module")
def observed(tmp_path_factory) -> Iterator[Observed]:
    wait_past_a_day_boundary()
    root = tmp_path_factory.mktemp("dashboards")
    for folder in ("influxdb", "numbatd", "prometheus"):
        (root / folder).mkdir()
    influxd = Influxd(root / "influxdb").start()
    numbat_port, statsd_port, dead_port = free_port(), free_port(), free_port()
    daemon = Numbatd(root / "numbatd", numbatd_config(influxd.url, numbat_port, statsd_port, dead_port))
    instance = f"127.0.0.1:{daemon.metrics_port}"
    config = scrape_config({"numbatd": instance}, interval=SCRAPE).replace(
        "evaluation_interval: 60s", f"evaluation_interval: {SCRAPE:g}s"
    )
    prometheus = PrometheusServer(root / "prometheus", f"{config}rule_files:\n  - {RULES}\n")
    live: subprocess.Popen[bytes] | None = None
    try:
        influxd.create_database("numbat")
        influxd.create_database("statsd")
        daemon.start(timeout=60)
        prometheus.start()
        assert wait_for(lambda: prometheus.query('up{job="numbatd"} == 1'), 30), prometheus.log()
        # the counters numbatd makes at start have a first sample, at 0
        assert wait_for(lambda: prometheus.query('numbat_sink_dropped_events_total{sink="analyzer"}'), 30)
        started = time.time()
        with open(root / "live.stderr", "wb") as live_stderr:
            live = subprocess.Popen(
                [
                    *(sys.executable, "-m", "log_parser", "live", "--stdin", "--format", "json"),
                    *("--db", str(root / "downloads.sqlite"), "--flush-interval", "0.3"),
                    *("--emit-uri", f"tcp://127.0.0.1:{numbat_port}"),
                ],
                stdin=subprocess.PIPE,
                stderr=live_stderr,
            )
        assert live.stdin is not None
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as statsd:
            for round_index in range(ROUNDS):
                send_tcp(numbat_port, registry_round(round_index))
                send_tcp(numbat_port, [json.dumps({"name": "numbat-logs.heartbeat", "ttl": 30000}), "not json"])
                padding = "x" * 1000
                send_tcp(
                    numbat_port, [json.dumps({"name": "load.filler", "value": i, "pad": padding}) for i in range(150)]
                )
                statsd.sendto(b"registry.hits:1|c\nregistry.hits:2|c\nthis is not statsd", ("127.0.0.1", statsd_port))
                live.stdin.write(log_round())
                live.stdin.flush()
                # scraped between the rounds: a series' first sample is no increase to Prometheus
                scraped_after(daemon, prometheus, round_index + 1)
        live.stdin.close()
        assert live.wait(60) == 0, (root / "live.stderr").read_text()
        expected_downloads = ROUNDS * sum(is_download(m, p, s) for m, p, s, _, _ in LOG_REQUESTS)

        def downloads_written() -> bool:
            rows = influxd.query('SELECT sum("value") FROM "numbat-logs.downloads"', "numbat")
            return bool(rows) and rows[0]["values"][0][1] == expected_downloads

        assert wait_for(downloads_written, 30), daemon.stderr()
        scraped_after(daemon, prometheus, ROUNDS)  # the last figures too
        # every rate window ($__rate_interval: 4 scrapes here) that holds the last increase
        # ends within the range, and the rules have been evaluated on the last scrape
        time.sleep(4 * SCRAPE + 1)

        result = Observed(instance=instance)
        result.captured_at = end = time.time()
        board = load("numbatd-health.json")
        for panel, target in queries(board):
            interval = panel_interval(panel, PROMETHEUS_STEP, datasource_interval=SCRAPE)
            expr = promql(target["expr"], interval, SCRAPE, {"instance": ".*"})
            result.prometheus[panel["title"]] = prometheus.query_range(expr, started - 5, end, interval)
        page = daemon.get("/metrics")[1].decode()
        result.page = parse_page(page)
        for family in text_string_to_metric_families(page):
            result.families |= {f"{family.name}{suffix}" for suffix in SERIES_SUFFIXES.get(family.type, ("",))}
        result.alerts = prometheus.query("ALERTS")
        for rule in RECORDED:
            result.recorded[rule] = prometheus.query(rule)
        seconds = math.ceil(end - started) + 10  # from before the first event
        for counter in COUNTERS:
            data = prometheus.api("query", query=f'{counter}{{job="numbatd"}}[{seconds}s]', time=end)
            result.increases[counter] = [
                (item["metric"], float(item["values"][-1][1]) - float(item["values"][0][1])) for item in data["result"]
            ]

        assert daemon.stop() == 0  # the aggregation flushes its interval, the sinks drain
        total = sum(len(latencies) for latencies in REQUESTS.values())

        def summaries_written() -> bool:
            rows = influxd.query('SELECT sum("count") FROM "registry.request.latency"', "statsd")
            return bool(rows) and rows[0]["values"][0][1] == total

        assert wait_for(summaries_written, 10), daemon.stderr()
        window = (started - 60, time.time() + 60)
        for name in ("registry-traffic.json", "downloads.json"):
            board = load(name)
            database = {"numbat-influxdb": "numbat", "numbat-influxdb-summaries": "statsd"}
            for (panel, target), step in itertools.product(queries(board), INFLUX_STEPS):
                interval = panel_interval(panel, step)
                query = influxql(target["query"], *window, interval)
                key = (panel["title"], step)
                result.influx[key] = influxd.query(query, database[panel["datasource"]["uid"]])
                result.intervals[key] = interval
        yield result
    finally:
        if live is not None:
            terminate(live)
        prometheus.stop()
        daemon.kill()
        influxd.stop()


# -- what each panel must show ----------------------------------------------------------------


def by(series: list[dict[str, Any]], *labels: str) -> dict[tuple[str, ...], list[float]]:
    """Prometheus series by the values of ``labels``: their values."""
    found: dict[tuple[str, ...], list[float]] = {}
    for item in series:
        key = tuple(item["metric"].get(label, "") for label in labels)
        assert key not in found, f"two series for {key}"
        found[key] = [value for _, value in item["values"]]
    return found


def nonzero(series: list[dict[str, Any]], *labels: str) -> set[tuple[str, ...]]:
    return {key for key, values in by(series, *labels).items() if max(values) > 0}


def counted(observed: Observed, name: str, *labels: str) -> set[tuple[str, ...]]:
    """The label values of a counter's samples on numbatd's own page that are above 0."""
    return {tuple(sample[label] for label in labels) for sample, value in observed.page_values(name) if value > 0}


def last(series: list[dict[str, Any]], *labels: str) -> dict[tuple[str, ...], float]:
    return {key: values[-1] for key, values in by(series, *labels).items()}


def integrals(series: list[dict[str, Any]], *labels: str) -> dict[tuple[str, ...], float]:
    """What a rate panel's series add up to: each step's rate times the step."""
    return {key: sum(values) * PROMETHEUS_STEP for key, values in by(series, *labels).items()}


def increases(observed: Observed, counter: str, *labels: str) -> dict[tuple[str, ...], float]:
    """How much a counter grew in the test, by ``labels``, from Prometheus's raw samples."""
    totals: dict[tuple[str, ...], float] = defaultdict(float)
    for sample, grew in observed.increases[counter]:
        totals[tuple(sample.get(label, "") for label in labels)] += grew
    return dict(totals)


def check_rate_of(counter: str, series: list[dict[str, Any]], observed: Observed, *labels: str) -> None:
    """A rate panel adds up to about what its counter grew by. Its windows ($__rate_interval,
    4 scrapes) overlap, so an increase between two scrapes is in the windows of 3 of those 4
    seconds (0.75 of it); Prometheus extrapolates each window to its edges (by up to about
    half, less for a counter that starts at 0). Measured: 0.77 to 1.17. A wrong metric or a
    wrong label is off by far more, or shows another set of series."""
    grew = {key: value for key, value in increases(observed, counter, *labels).items() if value > 0}
    shown = {key: value for key, value in integrals(series, *labels).items() if value > 0}
    assert set(shown) == set(grew)
    for key, value in grew.items():
        assert 0.6 * value <= shown[key] <= 1.6 * value, (key, shown[key], value)


LISTENERS = {("numbat-tcp",), ("statsd-udp",)}
SINKS = {("influx",), ("influx-summaries",), ("analyzer",)}


def check_decoded(observed: Observed, series: list[dict[str, Any]]) -> None:
    assert {item["metric"]["instance"] for item in series} == {observed.instance}
    assert nonzero(series, "listener") == LISTENERS
    check_rate_of("numbat_listener_decoded_events_total", series, observed, "listener")


def check_received_bytes(observed: Observed, series: list[dict[str, Any]]) -> None:
    assert nonzero(series, "listener") == LISTENERS
    check_rate_of("numbat_listener_received_bytes_total", series, observed, "listener")


def check_rejected(observed: Observed, series: list[dict[str, Any]]) -> None:
    shown = nonzero(series, "listener", "reason")
    assert {listener for listener, _ in shown} == {"numbat-tcp", "statsd-udp"}
    assert shown == counted(observed, "numbat_listener_rejected_lines_total", "listener", "reason")
    check_rate_of("numbat_listener_rejected_lines_total", series, observed, "listener", "reason")


def check_queue(observed: Observed, series: list[dict[str, Any]]) -> None:
    page = {(sample["sink"],): value for sample, value in observed.page_values("numbat_sink_queue_events")}
    assert last(series, "sink") == page
    assert set(page) == SINKS


def check_written(observed: Observed, series: list[dict[str, Any]]) -> None:
    shown = nonzero(series, "sink")
    assert ("influx",) in shown
    assert ("influx-summaries",) not in shown  # its summaries come at the flush, after
    assert shown == counted(observed, "numbat_sink_written_events_total", "sink")
    check_rate_of("numbat_sink_written_events_total", series, observed, "sink")


def check_delivered(observed: Observed, series: list[dict[str, Any]]) -> None:
    assert nonzero(series, "sink") == {("influx",)}  # the forward sink's peer is away
    check_rate_of("numbat_sink_delivered_events_total", series, observed, "sink")


def check_dropped(observed: Observed, series: list[dict[str, Any]]) -> None:
    assert nonzero(series, "sink", "cause") == {("analyzer", "spool full")}
    check_rate_of("numbat_sink_dropped_events_total", series, observed, "sink", "cause")


def check_skipped(observed: Observed, series: list[dict[str, Any]]) -> None:
    assert nonzero(series, "sink", "reason") == {("influx", "heartbeat")}
    check_rate_of("numbat_sink_skipped_events_total", series, observed, "sink", "reason")


def check_spool(observed: Observed, series: list[dict[str, Any]]) -> None:
    page = {(sample["sink"],): value for sample, value in observed.page_values("numbat_sink_spool_bytes")}
    shown = last(series, "sink")
    assert shown == page
    assert set(shown) == SINKS  # each remote sink has a spool
    assert shown[("analyzer",)] > 0
    assert shown[("influx",)] == 0


def check_lag(observed: Observed, series: list[dict[str, Any]]) -> None:
    (lag,) = last(series, "sink").items()
    assert lag[0] == ("influx",)  # the sinks that never delivered are left out
    (delivered,) = [
        value
        for sample, value in observed.page_values("numbat_sink_last_delivery_timestamp_seconds")
        if sample["sink"] == "influx"
    ]
    # the last step is at the capture time, give or take a step; the gauge is as of the last scrape
    assert abs(lag[1] - (observed.captured_at - delivered)) <= PROMETHEUS_STEP + 2 * SCRAPE


def check_aggregated(observed: Observed, series: list[dict[str, Any]]) -> None:
    assert nonzero(series, "aggregation") == {("registry",)}
    check_rate_of("numbat_aggregation_events_total", series, observed, "aggregation")


def check_uptime(observed: Observed, series: list[dict[str, Any]]) -> None:
    ((_, uptime),) = last(series, "instance").items()
    ((_, start),) = observed.page_values("process_start_time_seconds")
    assert abs(uptime - (observed.captured_at - start)) <= PROMETHEUS_STEP + 1


def check_cpu(observed: Observed, series: list[dict[str, Any]]) -> None:
    ((_, values),) = by(series, "instance").items()
    assert 0 < max(values) < 2  # a share of a core; numbatd runs one thread of Python


def check_memory(observed: Observed, series: list[dict[str, Any]]) -> None:
    ((_, values),) = by(series, "instance").items()
    ((_, resident),) = observed.page_values("process_resident_memory_bytes")
    assert 0.5 * resident < values[-1] < 2 * resident


PROMETHEUS_PANELS: dict[str, Callable[[Observed, list[dict[str, Any]]], None]] = {
    "Events decoded per listener": check_decoded,
    "Bytes received per listener": check_received_bytes,
    "Rejected lines by reason": check_rejected,
    "Queue depth per sink": check_queue,
    "Events written per sink": check_written,
    "Events delivered per sink": check_delivered,
    "Dropped events by cause": check_dropped,
    "Skipped events by reason": check_skipped,
    "Spool size per sink": check_spool,
    "Delivery lag per sink": check_lag,
    "Events aggregated": check_aggregated,
    "Uptime": check_uptime,
    "CPU": check_cpu,
    "Resident memory": check_memory,
}


@pytest.mark.parametrize("title", sorted(PROMETHEUS_PANELS))
def test_a_numbatd_health_panel_shows_the_daemons_figures(observed, title) -> None:
    series = observed.prometheus[title]
    assert series, f"{title}: no series"
    PROMETHEUS_PANELS[title](observed, series)


# -- InfluxDB -------------------------------------------------------------------------------


def columns(result: list[dict[str, Any]], tag: str | None = None) -> dict[str | None, dict[str, list[Any]]]:
    """InfluxDB series by a tag's value (None without one): each column's values."""
    found: dict[str | None, dict[str, list[Any]]] = {}
    for item in result:
        key = item.get("tags", {}).get(tag) if tag else None
        assert key not in found
        found[key] = {name: [row[i] for row in item["values"]] for i, name in enumerate(item["columns"])}
    return found


def per_second_total(result: list[dict[str, Any]], interval: float, per: float = 1.0, tag: str | None = None) -> dict:
    """What a rate series adds up to over the range: each bucket's value times its length."""
    totals = {}
    for key, table in columns(result, tag).items():
        (value_column,) = [name for name in table if name != "time"]
        totals[key] = sum(value * interval / per for value in table[value_column] if value is not None)
    return totals


def sent_by(index: int) -> dict[str, int]:
    totals: Counter[str] = Counter()
    for key, latencies in REQUESTS.items():
        totals[key[index]] += len(latencies)
    return dict(totals)


def check_requests(observed: Observed, key: tuple[str, float]) -> None:
    totals = per_second_total(observed.influx[key], observed.intervals[key])
    assert totals == {None: pytest.approx(sum(len(v) for v in REQUESTS.values()))}


def check_requests_by_class(observed: Observed, key: tuple[str, float]) -> None:
    totals = per_second_total(observed.influx[key], observed.intervals[key], tag="status_class")
    assert totals == pytest.approx(sent_by(2))


def check_requests_by_route(observed: Observed, key: tuple[str, float]) -> None:
    totals = per_second_total(observed.influx[key], observed.intervals[key], tag="route")
    assert totals == pytest.approx(sent_by(1))


def flushed_rows(table: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """The buckets that hold the flush (fill(none) leaves no other)."""
    rows = [dict(zip(table, values, strict=True)) for values in zip(*table.values(), strict=True)]
    assert len(rows) == 1, rows  # one flush, one bucket
    return rows


def check_percentiles(observed: Observed, key: tuple[str, float]) -> None:
    (row,) = flushed_rows(columns(observed.influx[key])[None])
    for column, percentile in (("p50", 50), ("p90", 90), ("p99", 99)):
        uppers = [statsd_upper(latencies, percentile) for latencies in REQUESTS.values()]
        assert row[column] == max(value for value in uppers if value is not None), column


def check_p99_by_route(observed: Observed, key: tuple[str, float]) -> None:
    shown = {route: flushed_rows(table)[0]["max"] for route, table in columns(observed.influx[key], "route").items()}
    expected: dict[str, float] = {}
    for (_, route, _), latencies in REQUESTS.items():
        upper = statsd_upper(latencies, 99)
        if upper is not None:
            expected[route] = max(expected.get(route, upper), upper)
    assert shown == expected


def check_mean_by_route(observed: Observed, key: tuple[str, float]) -> None:
    shown = {}
    for route, table in columns(observed.influx[key], "route").items():
        (row,) = flushed_rows(table)
        (shown[route],) = [value for name, value in row.items() if name != "time"]
    sums: Counter[str] = Counter()
    for (_, route, _), latencies in REQUESTS.items():
        sums[route] += sum(latencies)
    counts = sent_by(1)
    assert shown == pytest.approx({route: sums[route] / counts[route] for route in counts})


LOG_DOWNLOADS = ROUNDS * sum(is_download(m, p, s) for m, p, s, _, _ in LOG_REQUESTS)


def check_downloads_stat(observed: Observed, key: tuple[str, float]) -> None:
    assert columns(observed.influx[key])[None]["sum"] == [LOG_DOWNLOADS]


def check_downloads_per_minute(observed: Observed, key: tuple[str, float]) -> None:
    assert per_second_total(observed.influx[key], observed.intervals[key], per=60) == {None: LOG_DOWNLOADS}


def check_cdn_status_classes(observed: Observed, key: tuple[str, float]) -> None:
    expected = Counter(f"{status // 100}xx" for _, _, status, _, _ in LOG_REQUESTS * ROUNDS)
    totals = per_second_total(observed.influx[key], observed.intervals[key], per=60, tag="status_class")
    assert totals == dict(expected)


def check_bytes(observed: Observed, key: tuple[str, float]) -> None:
    totals = per_second_total(observed.influx[key], observed.intervals[key])
    assert totals == {None: ROUNDS * sum(size for _, _, _, size, _ in LOG_REQUESTS)}


def check_cache_ratio(observed: Observed, key: tuple[str, float]) -> None:
    values = [value for value in columns(observed.influx[key])[None]["mean"] if value is not None]
    hits = sum(cache == "HIT" for *_, cache in LOG_REQUESTS)
    assert values
    assert values == pytest.approx([hits / len(LOG_REQUESTS)] * len(values))


def check_rejected_log_lines(observed: Observed, key: tuple[str, float]) -> None:
    assert per_second_total(observed.influx[key], observed.intervals[key], per=60) == {None: ROUNDS}


INFLUX_PANELS: dict[str, Callable[[Observed, tuple[str, float]], None]] = {
    "Requests per second": check_requests,
    "Requests per second by status class": check_requests_by_class,
    "Requests per second by route": check_requests_by_route,
    "Latency percentiles": check_percentiles,
    "99th percentile latency by route": check_p99_by_route,
    "Mean latency by route": check_mean_by_route,
    "Downloads in the time range": check_downloads_stat,
    "Downloads per minute": check_downloads_per_minute,
    "CDN requests per minute by status class": check_cdn_status_classes,
    "Bytes served per second": check_bytes,
    "Cache hit ratio": check_cache_ratio,
    "Rejected log lines per minute": check_rejected_log_lines,
}


@pytest.mark.parametrize("step", INFLUX_STEPS)
@pytest.mark.parametrize("title", sorted(INFLUX_PANELS))
def test_an_influxdb_panel_shows_what_the_pipeline_was_sent(observed, title, step) -> None:
    assert observed.influx[title, step], f"{title}: no series"
    INFLUX_PANELS[title](observed, (title, step))


def test_every_panel_is_checked_here() -> None:
    titles = Counter(panel["title"] for path in DASHBOARD_FILES for panel in load(path.name)["panels"])
    assert max(titles.values()) == 1  # titles name the panels here
    assert set(titles) == set(PROMETHEUS_PANELS) | set(INFLUX_PANELS)


def test_the_percentile_rule_is_statsds() -> None:
    # statsd's own examples: of 10 values, upper_90 is the 9th smallest; of 4, upper_50 the 2nd
    assert statsd_upper(list(range(10, 0, -1)), 90) == 9
    assert statsd_upper([4, 1, 3, 2], 50) == 2
    assert statsd_upper([7], 40) is None  # round(0.4) keeps nothing
    assert statsd_upper([7, 8], 25) == 7  # round(0.5) is 1, half up


# -- the alert rules on the real metrics -----------------------------------------------------


def test_the_alert_rules_name_metrics_numbatd_has(observed) -> None:
    """promtool's unit tests run on series written by hand: here the names they use are held
    to the real page (a family counts, samples or not: reloads are counted from the first)."""
    text = RULES.read_text()
    named = set(re.findall(r"(?<![:\w])((?:numbat|process)_[a-z_]+)\b", text))  # not recording rules
    assert len(named) >= 10
    assert named <= observed.families


def test_the_recording_rules_record_the_daemons_series(observed) -> None:
    listeners = {item["metric"]["listener"] for item in observed.recorded[RECORDED[1]] if item["value"] > 0}
    assert listeners == {"numbat-tcp", "statsd-udp"}
    rejecting = {item["metric"]["listener"] for item in observed.recorded[RECORDED[2]] if item["value"] > 0}
    assert rejecting == {"numbat-tcp", "statsd-udp"}
    dropping = {(item["metric"]["sink"], item["metric"]["cause"]) for item in observed.recorded[RECORDED[3]]}
    assert ("analyzer", "spool full") in dropping
    assert {item["metric"]["sink"] for item in observed.recorded[RECORDED[4]]} == {"influx"}


def test_the_alerts_on_the_real_metrics_are_those_of_a_spool_that_fills_and_drops(observed) -> None:
    """The forward sink's peer is away: its spool drops (firing). Its spool may also be
    seen growing (pending: 10 minutes must pass), or not, at its cap, where it drops its
    oldest segments. Nothing else about the daemon is wrong, and nothing else fires."""
    alerts = {
        (
            item["metric"]["alertname"],
            item["metric"].get("sink"),
            item["metric"].get("cause"),
            item["metric"]["alertstate"],
        )
        for item in observed.alerts
    }
    dropping = ("NumbatEventsDropped", "analyzer", "spool full", "firing")
    assert dropping in alerts
    assert alerts - {dropping} <= {("NumbatSpoolGrowing", "analyzer", None, "pending")}
