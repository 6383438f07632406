"""The Graphite sink's keys, checked like every sink's: each mistake named by its key,
by the configuration loader and by ``numbatd --check-config``."""

from __future__ import annotations

import subprocess
import sys
import tomllib

import pytest

from collector.aggregate import GraphiteNaming
from collector.config import ConfigError, parse_config
from collector.sinks import SINK_TYPES, GraphiteOptions

BASE = '[[listeners]]\nurl = "udp://127.0.0.1:3333"\nformat = "statsd"\n[[aggregations]]\nname = "10s"\n'


def sink(extra: str) -> str:
    return BASE + f'[[sinks]]\ntype = "graphite"\n{extra}\n'


def test_the_defaults_and_every_key_parse() -> None:
    config = parse_config(tomllib.loads(sink("")), SINK_TYPES)
    assert config.sinks[0].options == GraphiteOptions()
    full = sink(
        """url = "tcp://carbon.example:2004"
protocol = "pickle"
connection = "per_batch"
prefix = "registry.numbat"
template = "hosts.{host}.{name}"
tags = false
tag_fields = ["status"]
write_heartbeats = true
naming = { global_prefix = "s", prefix_counter = "c", legacy_namespace = true, flush_counts = false }
batch_size = 100
flush_interval = 0.5
max_message_bytes = 65536
max_message_points = 100
max_path_bytes = 2048
max_paths = 10
connect_timeout = 1
send_timeout = 2
resend_window = 0
resend_max_bytes = 1000
max_body_attempts = 5
retry_base = 0.2
retry_cap = 2
spool = { max_bytes = 100000000 }
input = "10s"
"""
    )
    options = parse_config(tomllib.loads(full), SINK_TYPES).sinks[0].options
    assert isinstance(options, GraphiteOptions)
    naming = GraphiteNaming(global_prefix="s", prefix_counter="c", legacy_namespace=True, flush_counts=False)
    assert options.naming == naming
    assert (options.protocol, options.connection, options.template, options.tag_fields) == (
        "pickle",
        "per_batch",
        "hosts.{host}.{name}",
        ("status",),
    )
    assert (options.max_body_attempts, GraphiteOptions().max_body_attempts) == (5, 3)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ('url = "udp://127.0.0.1:2003"', "sinks[0].url: 'udp://127.0.0.1:2003': must be tcp://host:port"),
        ('url = "tcp://127.0.0.1"', "sinks[0].url: 'tcp://127.0.0.1' names no valid port"),
        ('protocol = "json"', "sinks[0].protocol: must be one of 'plaintext', 'pickle'"),
        ('connection = "sometimes"', "sinks[0].connection: must be one of 'persistent', 'per_batch'"),
        ('prefix = "a b"', "sinks[0].prefix: 'a b': not a clean path"),
        ('template = "{host}"', "sinks[0].template: '{host}' must hold {name}"),
        ('template = "x y.{name}"', "sinks[0].template: 'x y.{name}': literal text may hold only"),
        ("tags = 1", "sinks[0].tags: must be a boolean"),
        ('naming = { globalPrefix = "x" }', "sinks[0].naming.globalPrefix: unknown key"),
        ("max_message_bytes = 1000", "sinks[0].max_message_bytes: must be at least 65,536"),
        ("max_message_bytes = 16777216", "sinks[0].max_message_bytes: must be at most 16,777,215"),
        ("max_path_bytes = 20000", "sinks[0].max_path_bytes: must be at most 16,000"),
        ("max_paths = 0", "sinks[0].max_paths: must be positive"),
        ("max_message_points = 0", "sinks[0].max_message_points: must be positive"),
        ("resend_window = -1", "sinks[0].resend_window: must not be negative"),
        ("max_body_attempts = 0", "sinks[0].max_body_attempts: must be positive"),
        ("retry_cap = 0.01", "sinks[0].retry_cap: must be at least retry_base"),
        ('input = "1m"', "sinks[0].input: '1m' names no aggregation"),
    ],
)
def test_mistakes_are_named_by_their_key(change: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(tomllib.loads(sink(change)), SINK_TYPES)
    assert message in str(caught.value)


def test_check_config_takes_the_graphite_sink(tmp_path) -> None:
    good, bad = tmp_path / "good.toml", tmp_path / "bad.toml"
    good.write_text(sink('protocol = "pickle"\nurl = "tcp://127.0.0.1:2004"\ninput = "10s"'))
    bad.write_text(sink('template = "{name"'))
    run = [sys.executable, "-m", "collector", "--check-config"]
    result = subprocess.run([*run, str(good)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    result = subprocess.run([*run, str(bad)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert "sinks[0].template: '{name': a brace outside a {field}" in result.stderr
