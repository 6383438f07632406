"""Configuration: every mistake is named by its key; the command line's exit statuses."""

from __future__ import annotations

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
    assert "7 listeners, 4 sinks" in result.stdout
