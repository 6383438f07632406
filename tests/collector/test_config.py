"""Configuration: every mistake is named by its key; the command line's exit statuses."""

from __future__ import annotations

import math
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from collector.config import DEFAULT_CONFIG, ConfigError, default_config, parse_config
from collector.sinks import SINK_TYPES, JsonlOptions

GOOD = """
shutdown_timeout = 5
[limits]
max_line_bytes = 4096
[[listeners]]
url = "udp://127.0.0.1:3333"
[[listeners]]
url = "tcp://[::1]:3333"
format = "statsd"
limits = { max_connections = 10 }
[[listeners]]
url = "unix:///run/numbat.sock"
format = "influx"
[[listeners]]
url = "http://127.0.0.1:8086"
[[sinks]]
type = "jsonl"
path = "/var/log/numbat/events.jsonl"
fsync = "always"
include = ["registry."]
[[sinks]]
type = "console"
[[sinks]]
type = "forward"
url = "tcp://analyzer:3337"
overflow = "block"
"""


def test_a_full_config_parses() -> None:
    config = parse_config(tomllib.loads(GOOD), SINK_TYPES)
    assert [listener.format for listener in config.listeners] == ["numbat", "statsd", "influx", "numbat"]
    assert config.listeners[1].address.host == "::1"
    assert config.limits_for(config.listeners[1]).max_connections == 10
    assert config.limits_for(config.listeners[1]).max_line_bytes == 4096
    jsonl = config.sinks[0]
    assert isinstance(jsonl.options, JsonlOptions)
    assert (jsonl.name, jsonl.options.fsync, jsonl.include) == ("jsonl", "always", ("registry.",))
    assert jsonl.accepts("registry.downloads")
    assert not jsonl.accepts("other.x")
    assert config.sinks[2].overflow == "block"


def test_the_embedded_default_needs_no_other_server() -> None:
    config = default_config(SINK_TYPES)
    assert [listener.url for listener in config.listeners] == ["udp://127.0.0.1:3333", "tcp://127.0.0.1:3333"]
    assert [sink.type for sink in config.sinks] == ["console"]
    assert "127.0.0.1" in DEFAULT_CONFIG


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ('[[listeners]]\nurl = "udp://127.0.0.1:1"\nformat = "xml"', "listeners[4].format: must be one of"),
        ('[[listeners]]\nurl = "ftp://x:1"', "listeners[4].url: 'ftp://x:1': scheme must be"),
        ('[[listeners]]\nurl = "tcp://127.0.0.1"', "listeners[4].url: 'tcp://127.0.0.1' names no valid port"),
        ('[[listeners]]\nurl = "udp://127.0.0.1:1"\ncolour = "red"', "listeners[4].colour: unknown key"),
        (
            '[[listeners]]\nurl = "udp://127.0.0.1:1"\nlimits = { max_line_bytes = -1 }',
            "max_line_bytes: must be positive",
        ),
        ('[[listeners]]\nurl = "udp://127.0.0.1:3333"', "listeners: the name 'udp://127.0.0.1:3333' is used twice"),
        ('[[sinks]]\ntype = "jsonl"', "sinks[3].path: required"),
        ('[[sinks]]\ntype = "jsonl"\npath = "x"\nfsync = "sometimes"', "sinks[3].fsync: must be one of"),
        ('[[sinks]]\ntype = "jsonl"\npath = "x"\nmax_bytes = "big"', "sinks[3].max_bytes: must be a whole number"),
        ('[[sinks]]\ntype = "kafka"', "sinks[3].type: must be one of"),
        ('[[sinks]]\ntype = ["console"]', "sinks[3].type: must be one of"),
        ('[[sinks]]\ntype = "console"\nqueue_size = 0', "sinks[3].queue_size: must be positive"),
        ('[[sinks]]\ntype = "console"\noverflow = "spill"', "sinks[3].overflow: must be one of 'drop_oldest', 'block'"),
        ('[[sinks]]\ntype = "console"\ninclude = "app."', "sinks[3].include: must be a list"),
        ('[[sinks]]\ntype = "forward"\nurl = "udp://x:1"', "sinks[3].url: 'udp://x:1': must be tcp:// or unix://"),
        ("[limits]\nidle_timeout = true", "config.limits.idle_timeout: must be a number"),
        ("[limits]\nread_timeout = 0", "config.limits.read_timeout: must be a positive number of seconds"),
        ("[limits]\nmax_header_bytes = 100", "config.limits.max_header_bytes: must be at least 1024"),
        ("[limits]\nfd_reserve = 0", "config.limits.fd_reserve: must be positive"),
        (
            '[[listeners]]\nurl = "tcp://127.0.0.1:1"\nlimits = { fd_reserve = 10 }',
            "listeners[4].limits.fd_reserve: process-wide; set it in [limits]",
        ),
        ('[[listeners]]\nurl = "unixgram://"', "listeners[4].url: 'unixgram://' names no socket path"),
        ("[log]\nlevel = 3", "config.log.level: must be one of"),
        ("surprise = 1", "config.surprise: unknown key"),
    ],
)
def test_mistakes_are_named_by_their_key(change: str, message: str) -> None:
    base = GOOD.replace("[limits]\nmax_line_bytes = 4096\n", "")
    text = change + "\n" + base if change.startswith("surprise") else base + "\n" + change
    with pytest.raises(ConfigError) as caught:
        parse_config(tomllib.loads(text), SINK_TYPES)
    assert message in str(caught.value)


def test_no_listeners_or_no_sinks_is_an_error() -> None:
    with pytest.raises(ConfigError, match="listeners: at least one"):
        parse_config({"sinks": [{"type": "console"}]}, SINK_TYPES)
    with pytest.raises(ConfigError, match="sinks: at least one"):
        parse_config({"listeners": [{"url": "udp://127.0.0.1:1"}]}, SINK_TYPES)


def numbatd(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "collector", *args], capture_output=True, text=True, timeout=30)


def test_check_config_exit_statuses(tmp_path) -> None:
    good, bad = tmp_path / "good.toml", tmp_path / "bad.toml"
    good.write_text(GOOD)
    bad.write_text(GOOD + '\n[[sinks]]\ntype = "jsonl"\npath = "x"\nkeep = -1\n')
    result = numbatd("--check-config", str(good))
    assert (result.returncode, result.stdout.strip()) == (0, f"{good}: ok (4 listeners, 3 sinks)")
    result = numbatd("--check-config", str(bad))
    assert result.returncode == 2
    assert "sinks[3].keep: must not be negative" in result.stderr
    not_toml = tmp_path / "broken.toml"
    not_toml.write_text("[[listeners]\n")
    assert "not valid TOML" in numbatd("--check-config", str(not_toml)).stderr


def test_a_bad_config_stops_numbatd_at_start(tmp_path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[[listeners]]\nurl = "tcp://127.0.0.1:1"\n[[sinks]]\ntype = "console"\nqueue_size = "lots"\n')
    result = numbatd("--config", str(bad))
    assert result.returncode == 2
    assert "sinks[0].queue_size: must be a whole number, got str 'lots'" in result.stderr
    result = numbatd("--config", str(tmp_path / "missing.toml"))
    assert result.returncode == 2
    assert "cannot read" in result.stderr


def test_the_shipped_example_config_is_valid() -> None:
    example = Path(__file__).resolve().parents[2] / "deploy" / "numbatd.example.toml"
    result = numbatd("--check-config", str(example))
    assert result.returncode == 0, result.stderr
    assert "7 listeners, 8 sinks, 1 aggregations" in result.stdout


AGGREGATED = """
[[listeners]]
url = "udp://127.0.0.1:8125"
format = "statsd"
[[aggregations]]
name = "10s"
[[aggregations]]
name = "minute"
interval = 60
percentiles = [50, 90, 99.9, -10]
histogram_bins = [0.01, 0.1, 1, "inf"]
max_series = 5000
max_samples = 1000
max_set_members = 250000
delete_idle_after = "never"
delete_idle_after_by_kind = { counter = 2, set = "never" }
gauge_ttl = 3600
sample_rate_in_key = true
[[aggregations.rules]]
match = "web.*.latency"
kind = "timer"
key_fields = ["host", "route"]
[[aggregations.rules]]
match = "web.debug.*"
kind = "pass"
[[sinks]]
type = "jsonl"
name = "archive"
path = "events.jsonl"
[[sinks]]
type = "console"
input = "minute"
[[sinks]]
type = "forward"
url = "tcp://127.0.0.1:1"
input = "10s"
"""


def test_aggregations_and_the_inputs_of_sinks_parse() -> None:
    config = parse_config(tomllib.loads(AGGREGATED), SINK_TYPES)
    ten, minute = config.aggregations
    assert (ten.name, ten.interval, ten.percentiles, ten.delete_idle_after, ten.gauge_ttl) == (
        "10s",
        10.0,
        (50.0, 90.0, 99.0),
        0,
        None,
    )
    assert minute.interval_ms == 60_000
    assert minute.percentiles == (50.0, 90.0, 99.9, -10.0)
    assert (minute.histogram_bins, minute.max_series, minute.max_samples) == ((0.01, 0.1, 1.0, math.inf), 5000, 1000)
    assert (ten.max_set_members, minute.max_set_members) == (10_000, 250_000)
    assert (minute.delete_idle_after, minute.gauge_ttl) == ("never", 3600.0)
    assert (ten.sample_rate_in_key, minute.sample_rate_in_key) == (False, True)
    assert minute.delete_idle_after_by_kind == {"counter": 2, "set": "never"}
    assert [(rule.match, rule.kind, rule.key_fields) for rule in minute.rules] == [
        ("web.*.latency", "timer", ("host", "route")),
        ("web.debug.*", "pass", ()),
    ]
    assert [(sink.name, sink.input, sink.raw) for sink in config.sinks] == [
        ("archive", "raw", True),
        ("console", "minute", False),
        ("forward", "10s", False),
    ]


def test_a_config_without_aggregations_takes_raw_events_everywhere() -> None:
    config = parse_config(tomllib.loads(GOOD), SINK_TYPES)
    assert config.aggregations == ()
    assert all(sink.input == "raw" for sink in config.sinks)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            '[[sinks]]\ntype = "console"\nname = "c2"\ninput = "hourly"',
            "sinks[3].input: 'hourly' names no aggregation; expected one of 'raw', '10s', 'minute'",
        ),
        ('[[sinks]]\ntype = "console"\nname = "c2"\ninput = ""', "sinks[3].input: must be 'raw' or the name of"),
        ('[[sinks]]\ntype = "console"\nname = "c2"\ninput = ["10s"]', "sinks[3].input: must be a string"),
        ('[[aggregations]]\nname = "10s"', "aggregations: the name '10s' is used twice"),
        ('[[aggregations]]\nname = "raw"', "aggregations[2].name: 'raw' is what a sink's input says"),
        ("[[aggregations]]\ninterval = 10", "aggregations[2].name: required"),
        ('[[aggregations]]\nname = "x"\nflush = 10', "aggregations[2].flush: unknown key"),
        ('[[aggregations]]\nname = "x"\ninterval = 0', "aggregations[2].interval: must be a positive number"),
        ('[[aggregations]]\nname = "x"\ninterval = inf', "aggregations[2].interval: must be a finite number"),
        ('[[aggregations]]\nname = "x"\ninterval = 100000', "aggregations[2].interval: must be at most 86,400"),
        (
            '[[aggregations]]\nname = "x"\ninterval = 0.0005',
            "aggregations[2].interval: must be a whole number of milli",
        ),
        ('[[aggregations]]\nname = "x"\npercentiles = [0]', "aggregations[2].percentiles: 0.0: each must be in"),
        ('[[aggregations]]\nname = "x"\npercentiles = [101]', "aggregations[2].percentiles: 101.0: each must be"),
        ('[[aggregations]]\nname = "x"\npercentiles = [90, 90]', "aggregations[2].percentiles: names a percentile"),
        ('[[aggregations]]\nname = "x"\npercentiles = ["p90"]', "aggregations[2].percentiles[0]: must be a number"),
        ('[[aggregations]]\nname = "x"\nhistogram_bins = [1, 1]', "aggregations[2].histogram_bins: must increase"),
        ('[[aggregations]]\nname = "x"\nhistogram_bins = ["inf", 1]', "aggregations[2].histogram_bins: must increase"),
        ('[[aggregations]]\nname = "x"\nhistogram_bins = ["big"]', "aggregations[2].histogram_bins: 'big': a number"),
        ('[[aggregations]]\nname = "x"\nhistogram_bins = [nan]', "aggregations[2].histogram_bins[0]: must be a finite"),
        ('[[aggregations]]\nname = "x"\nmax_series = 0', "aggregations[2].max_series: must be positive"),
        ('[[aggregations]]\nname = "x"\nmax_series = 1e3', "aggregations[2].max_series: must be a whole number"),
        ('[[aggregations]]\nname = "x"\nmax_samples = 2e8', "aggregations[2].max_samples: must be a whole number"),
        ('[[aggregations]]\nname = "x"\nmax_samples = 200000000', "aggregations[2].max_samples: must be at most"),
        ('[[aggregations]]\nname = "x"\nmax_set_members = 0', "aggregations[2].max_set_members: must be positive"),
        ('[[aggregations]]\nname = "x"\nmax_set_members = 1e4', "aggregations[2].max_set_members: must be a whole"),
        (
            '[[aggregations]]\nname = "x"\nmax_set_members = 20000000',
            "aggregations[2].max_set_members: must be at most 10,000,000",
        ),
        ('[[aggregations]]\nname = "x"\ndelete_idle_after = -1', "aggregations[2].delete_idle_after: must not be"),
        (
            '[[aggregations]]\nname = "x"\ndelete_idle_after = "later"',
            "aggregations[2].delete_idle_after: must be a whole number of flushes or 'never'; got 'later'",
        ),
        ('[[aggregations]]\nname = "x"\ngauge_ttl = -5', "aggregations[2].gauge_ttl: must not be negative"),
        (
            '[[aggregations]]\nname = "x"\ndelete_idle_after_by_kind = { gauge = 1 }',
            "aggregations[2].delete_idle_after_by_kind: 'gauge' is not one of counter, timer, set",
        ),
        (
            '[[aggregations]]\nname = "x"\ndelete_idle_after_by_kind = { timer = "soon" }',
            "aggregations[2].delete_idle_after_by_kind.timer: must be a whole number of flushes or 'never'",
        ),
        (
            '[[aggregations]]\nname = "x"\ndelete_idle_after_by_kind = { set = 1.5 }',
            "aggregations[2].delete_idle_after_by_kind.set: must be a whole number or 'never'",
        ),
        (
            '[[aggregations]]\nname = "x"\ndelete_idle_after_by_kind = 3',
            "aggregations[2].delete_idle_after_by_kind: must be a table",
        ),
        (
            '[[aggregations]]\nname = "x"\n[[aggregations.rules]]\nkind = "timer"',
            "aggregations[2].rules[0].match: required",
        ),
        (
            '[[aggregations]]\nname = "x"\n[[aggregations.rules]]\nmatch = "a.*"\nkind = "histogram"',
            "aggregations[2].rules[0].kind: must be one of 'counter', 'timer', 'gauge', 'set', 'pass'",
        ),
        (
            '[[aggregations]]\nname = "x"\n[[aggregations.rules]]\nmatch = ""\nkind = "counter"',
            "aggregations[2].rules[0].match: must be a glob",
        ),
        (
            '[[aggregations]]\nname = "x"\n[[aggregations.rules]]\nmatch = "a"\nkind = "set"\nkey_fields = ["time"]',
            "aggregations[2].rules[0].key_fields: 'time' is what a summary is made of",
        ),
        (
            '[[aggregations]]\nname = "x"\n[[aggregations.rules]]\nmatch = "a"\nkind = "set"\nkey_fields = "host"',
            "aggregations[2].rules[0].key_fields: must be a list",
        ),
    ],
)
def test_aggregation_mistakes_are_named_by_their_key(change: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(tomllib.loads(AGGREGATED + "\n" + change), SINK_TYPES)
    assert message in str(caught.value)


def test_aggregations_must_be_tables() -> None:
    with pytest.raises(ConfigError, match=r"aggregations: must be \[\[aggregations\]\] tables"):
        parse_config(tomllib.loads("aggregations = 3\n" + GOOD), SINK_TYPES)
    with pytest.raises(ConfigError, match=r"aggregations\[0\]: must be a table"):
        parse_config(tomllib.loads("aggregations = [3]\n" + GOOD), SINK_TYPES)


def test_check_config_counts_the_aggregations(tmp_path) -> None:
    path = tmp_path / "aggregated.toml"
    path.write_text(AGGREGATED)
    result = numbatd("--check-config", str(path))
    assert (result.returncode, result.stdout.strip()) == (0, f"{path}: ok (1 listeners, 3 sinks, 2 aggregations)")
    path.write_text(AGGREGATED.replace('input = "minute"', 'input = "hourly"'))
    result = numbatd("--check-config", str(path))
    assert result.returncode == 2
    assert "sinks[1].input: 'hourly' names no aggregation; expected one of 'raw', '10s', 'minute'" in result.stderr
