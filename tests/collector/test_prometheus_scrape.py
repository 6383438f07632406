"""A real Prometheus (Debian's 2.42) scrapes numbatd's prometheus sink: what its query API
answers is what was sent, per label set; an expired series goes stale there; no name,
label or value that arrives breaks a scrape (``up`` stays 1).

One Prometheus serves the module (it takes about five seconds to run its first
scrapes): it scrapes one address per test, every second, and each test starts its own
numbatd with the sink on its address.
"""

from __future__ import annotations

import re
import socket
import time
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import orjson
import pytest

from collector.sinks.prometheus._text import bound

from ..waiting import wait_for
from .numbatd import Numbatd, free_port
from .prometheus_server import PrometheusServer, scrape_config

pytestmark = pytest.mark.slow
TESTS = ("values", "expiry", "bad_names", "aggregation")


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[PrometheusServer, dict[str, int]]]:
    ports = {test: free_port() for test in TESTS}
    folder = tmp_path_factory.mktemp("prometheus")
    server = PrometheusServer(folder, scrape_config({test: f"127.0.0.1:{port}" for test, port in ports.items()}))
    yield server.start(), ports
    server.stop()


def daemon_config(port: int, udp: int, tcp: int, sink: str = "", aggregation: str = "") -> str:
    return f"""
[[listeners]]
url = "udp://127.0.0.1:{udp}"
format = "statsd"
[[listeners]]
url = "tcp://127.0.0.1:{tcp}"
format = "numbat"
{aggregation}
[[sinks]]
type = "prometheus"
listen = "127.0.0.1:{port}"
{sink}
"""


def send_statsd(port: int, *lines: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for line in lines:
            sock.sendto(line.encode(), ("127.0.0.1", port))


def send_numbat(port: int, *events: dict[str, Any]) -> None:
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(b"".join(orjson.dumps(event) + b"\n" for event in events))


def by_labels(result: list[dict[str, Any]], *keep: str) -> dict[tuple[str, ...], float]:
    """A query's samples by the values of the labels ``keep``."""
    return {tuple(item["metric"].get(label, "") for label in keep): item["value"] for item in result}


def answers(prometheus: PrometheusServer, expr: str, expected: Callable[[list[dict[str, Any]]], bool]) -> bool:
    return wait_for(lambda: expected(prometheus.query(expr)), 30, interval=0.2)


@pytest.fixture
def start(numbatd: Callable[..., Numbatd]) -> Callable[..., tuple[Numbatd, int, int]]:
    def started(port: int, sink: str = "", aggregation: str = "") -> tuple[Numbatd, int, int]:
        udp, tcp = free_port(), free_port()
        return numbatd(daemon_config(port, udp, tcp, sink, aggregation)), udp, tcp

    return started


def test_prometheus_reads_what_was_sent_per_label_set(prometheus, start) -> None:
    server, ports = prometheus
    sink = """
[[sinks.mappings]]
match = "api.*.requests"
name = "api_requests"
labels = { service = "$1" }
help = "Requests per service."
[[sinks.mappings]]
match = "api.*.latency"
name = "api_latency_seconds"
labels = { service = "$1" }
observer_type = "histogram"
buckets = [0.01, 0.1, 1]
"""
    _, udp, tcp = start(ports["values"], sink)
    send_statsd(
        udp,
        "api.search.requests:3|c|#host:a",
        "api.search.requests:4|c|#host:b",
        "api.search.requests:1|c|@0.5|#host:a",  # 2, sampled
        "api.publish.requests:7|c",
        "api.search.latency:50|ms|#host:a",
        "api.search.latency:500|ms|#host:a",
        "queue.depth:12|g|#queue:mail",
        "queue.depth:+3|g|#queue:mail",
    )
    send_numbat(tcp, {"name": "registry.packages", "value": 1234, "host": "web-1"})
    expected = {("search", "a"): 5.0, ("search", "b"): 4.0, ("publish", ""): 7.0}
    assert answers(server, "api_requests_total", lambda got: by_labels(got, "service", "host") == expected)
    assert answers(
        server,
        'api_latency_seconds_bucket{service="search"}',
        lambda got: by_labels(got, "le") == {("0.01",): 0, ("0.1",): 1, ("1",): 2, ("+Inf",): 2},
    )
    assert answers(
        server, "api_latency_seconds_sum", lambda got: [item["value"] for item in got] == [pytest.approx(0.55)]
    )
    assert answers(server, 'queue_depth{queue="mail"}', lambda got: [item["value"] for item in got] == [15])
    assert answers(
        server, "registry_packages", lambda got: by_labels(got, "host", "job") == {("web-1", "values"): 1234}
    )
    help_text = server.api("metadata", metric="api_requests_total")
    assert help_text["api_requests_total"][0] == {"type": "counter", "help": "Requests per service.", "unit": ""}


def test_an_expired_series_goes_stale_in_prometheus(prometheus, start) -> None:
    server, ports = prometheus
    daemon, udp, _ = start(ports["expiry"], 'ttl = 2\n[[sinks.mappings]]\nmatch = "kept.*"\nname = "kept"\nttl = 0\n')
    send_statsd(udp, "gone:1|g", "kept.a:1|g")
    assert answers(server, "gone", lambda got: len(got) == 1)
    assert answers(server, "kept", lambda got: len(got) == 1)
    # two seconds without an update: off the page; Prometheus marks it stale at its next scrape
    assert answers(server, "gone", lambda got: got == [])
    assert server.query("kept") != []
    assert daemon.metric("numbat_sink_expired_series_total") == 1
    # sent again, it comes back
    send_statsd(udp, "gone:2|g")
    assert answers(server, "gone", lambda got: [item["value"] for item in got] == [2])


BAD_STATSD = [
    "9lives:1|g",  # a leading digit
    "ümlaut.名前:2|g",  # letters outside ASCII
    "with space:3|c|#__name__:x,le:1,quantile:q,job:j,instance:i",  # labels Prometheus reserves or sets
    "tagged:1|c|#a.b:1,a_b:2",  # two tags that become one label name
    "t:1|ms|#le:oops",  # le on a histogram
    "t:1|c",  # t is a histogram: this counter is t_total, another family
    "t_count:1|g",  # a gauge on the histogram's own sample name: refused, counted
    "x:1|c",
    "x:1|g",  # a gauge of the same name as the counter's family? x_total vs x: both fine
    'quote:1|g|#v:say "hi",w:back\\slash',
]
BAD_NUMBAT = [
    {"name": "json.value", "value": 1, "note": "line one\nline two", "emoji": "🐙", "empty": ""},
    {"name": "json.value", "value": 2, "other": "label set"},  # another label set, same family
    {"name": "\u2028sep\x1e", "value": 3},  # characters other text formats end lines at
    {"name": "big", "value": 1.7976931348623157e308},
    {"name": "tiny", "value": -5e-324},
    {"name": "a:b.c-d", "value": 1},  # colons (Prometheus keeps them for its rules) and dashes
]


def test_no_name_label_or_value_breaks_a_scrape(prometheus, start) -> None:
    server, ports = prometheus
    daemon, udp, tcp = start(ports["bad_names"], 'observer_type = "histogram"')
    send_statsd(udp, *BAD_STATSD)
    send_numbat(tcp, *BAD_NUMBAT)
    assert answers(server, "_9lives", lambda got: [item["value"] for item in got] == [1])
    scraped = time.time()  # the page with every bad name has been scraped: up from now on
    assert answers(server, 'json_value{note="line one\\nline two"}', lambda got: len(got) == 1)
    assert answers(server, 'quote{v="say \\"hi\\"",w="back\\\\slash"}', lambda got: len(got) == 1)
    assert answers(server, "big", lambda got: [item["value"] for item in got] == [1.7976931348623157e308])
    assert answers(server, "_sep_", lambda got: [item["value"] for item in got] == [3])
    time.sleep(3)  # a few more scrapes of the whole page
    up = [value for _, value in server.query_range('up{job="bad_names"}', scraped, time.time(), 0.5)[0]["values"]]
    assert len(up) >= 6  # three seconds and more of scrapes
    assert set(up) == {1.0}
    target = next(target for target in server.targets() if target["labels"]["job"] == "bad_names")
    assert target["health"] == "up"
    assert target["lastError"] == ""
    names = {item["metric"]["__name__"] for item in server.query('{job="bad_names"}')}
    assert {"a_b_c_d", "_mlaut___", "with_space_total", "tagged_total", "t_bucket", "t_total", "x", "x_total"} <= names
    reserved = by_labels(server.query("with_space_total"), "_name__", "exported_job", "exported_instance", "quantile")
    assert reserved == {("x", "j", "i", "q"): 3}  # __name__ written _name__; Prometheus renames job, instance
    assert by_labels(server.query("t_count"), "exported_le") == {("oops",): 1}
    assert daemon.metric("numbat_sink_skipped_events_total", reason="name taken") == 1


def test_an_aggregations_counters_and_timers_in_prometheus(prometheus, start) -> None:
    server, ports = prometheus
    aggregation = '[[aggregations]]\nname = "1s"\ninterval = 1\nhistogram_bins = [100, 1000, "inf"]\n'
    sink = 'input = "1s"\n[[sinks.mappings]]\nmatch = "lat"\nname = "lat_ms"\nobserver_type = "histogram"\n'
    _, udp, _ = start(ports["aggregation"], sink, aggregation)
    send_statsd(udp, "hits:5|c|#host:a", "hits:5|c|#host:a", "lat:50|ms", "lat:500|ms", "lat:5000|ms")
    assert answers(server, "hits_total", lambda got: by_labels(got, "host") == {("a",): 10})
    assert answers(
        server,
        "lat_ms_bucket",
        lambda got: by_labels(got, "le") == {("100",): 1, ("1000",): 2, ("+Inf",): 3},
    )
    send_statsd(udp, "hits:1|c|#host:a")
    assert answers(server, "hits_total", lambda got: by_labels(got, "host") == {("a",): 11})


def test_le_is_spelt_as_prometheus_spells_it(prometheus) -> None:
    """Prometheus's own histograms (Go's client) against bound(): the same text for the
    same float, so numbatd's buckets and other exporters' aggregate together."""
    server, _ = prometheus
    with urllib.request.urlopen(f"{server.url}/metrics", timeout=5) as response:
        page = response.read().decode()
    spelt = set(re.findall(r'le="([^"]+)"', page)) | set(re.findall(r'quantile="([^"]+)"', page))
    assert len(spelt) > 10
    assert {text for text in spelt if bound(float(text)) != text} == set()
