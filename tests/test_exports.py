"""Each package's declared surface, written out here so that changing it is a visible decision.

As trio's test_exports.py does: what users may import from a package is its ``__all__``,
and these tests hold it to a literal list; every name in it exists; any other public
name a package shows is a submodule. Every module is internal (a leading underscore in
its dotted name, as in h11 and trio) unless it is a package with a surface here or one of
the few public modules listed below: a new one is a decision as well.
"""

from __future__ import annotations

import importlib
import pkgutil
import types
from pathlib import Path

import pytest

import collector
from collector import config, sinks, wire


def names(text: str) -> list[str]:
    return text.split()


ROOT = Path(__file__).resolve().parents[1]
#: Each package's ``__all__``, one text per package.
SURFACES = {
    "emitter": names(
        "Destination Emitter EmitterSettings EmitterStats Event EventBuilder InvalidURI Timer get_global metric "
        "parse_uri set_global timer to_statsd"
    ),
    "collector": names("SINK_TYPES Config ConfigError Daemon Sink SinkType decoder_for default_config load_config"),
    "collector.config": names(
        "DEFAULT_CONFIG DEFAULT_PORT DEFAULT_SELF_METRICS NEVER RAW AggregationConfig Config ConfigError HasOptions "
        "Limits ListenAddress ListenerConfig LogConfig RuleConfig SelfMetricsConfig SinkConfig SinkOptions "
        "default_config load_config parse_config parse_listen_url require require_at_most"
    ),
    "collector.wire": names(
        "FORMATS TIME_RANGE_MS Batch Decoder Event Format LineFramer Rejection decoder_for drop_long_lines"
    ),
    "collector.aggregate": names(
        "AggregationOptions Aggregator AggregatorStats GraphiteNaming Rule Summary graphite_paths"
    ),
    "collector.alerts": names(
        "RULE_TYPES AbsentRule Action AlertEngine AlertRule BookStats EngineStats HeartbeatRule Incident "
        "Notification RatioRule Severity Silence StatusRule ThresholdRule check_rules"
    ),
    "collector.alerts.outputs": names(
        "OUTPUT_TYPES AlertmanagerOptions AlertmanagerOutput Dispatch HttpOptions LogOptions LogOutput Output "
        "OutputOptions OutputRunner PagerDutyOptions PagerDutyOutput Rejected RemediationOptions RemediationOutput "
        "Retryable SlackOptions SlackOutput WebhookOptions WebhookOutput"
    ),
    "collector.listeners": names("Intake Listeners"),
    "collector.router": names("Router SinkQueue SinkRunner"),
    "collector.sinks": names(
        "SINK_TYPES AlertsOptions AlertsSink ConsoleOptions ConsoleSink "
        "ForwardOptions ForwardSink GraphiteOptions GraphiteSink InfluxOptions InfluxSink JsonlOptions "
        "JsonlSink PrometheusOptions PrometheusSink RemoteSink RemoteWriteOptions RemoteWriteSink Sink SinkOptions "
        "SinkType SpoolOptions Unavailable"
    ),
    "collector.sinks.remote": names(
        "HttpClient RemoteOptions RemoteSink RequestFailed Response SpoolOptions Unavailable"
    ),
    "collector.sinks.remote_write": names("RemoteWriteOptions RemoteWriteSink"),
    "collector.sinks.influxdb": names("COMPILED_MODULE_DIR InfluxOptions InfluxSink LineEncoder"),
    "collector.sinks.prometheus": names("MappingRule PrometheusOptions PrometheusSink"),
    "collector.sinks.alerts": names("AlertsOptions AlertsSink OutputSpec"),
    "collector.sinks.graphite": names("GraphiteOptions GraphiteSink PathMaker PointEncoder Template"),
    "collector.observe": names(
        "AggregationStats AlertOutputStats AlertSinkStats "
        "FloodGate HealthApp SelfMetrics SinkStats log serve_health setup_logging"
    ),
    "jit": names("CompiledCache use_compiled_cache"),
    "log_parser": names("ParseError Request Store Tally counter_for open_store tally_file tally_stream to_day_counts"),
    "log_parser.store": names(
        "ALL_PACKAGES SCHEMA_VERSION BackfilledObject DayCounts FileRecord ObjectRecord ObjectRows SchemaError Store "
        "StoreError backend_for describe is_postgresql object_rows open_store to_day_counts"
    ),
    "monitor": names("RunOptions run"),
    "monitor.core": names(
        "ChildExit CpuRate HostUsage Line LineSplitter Metric NotStarted RateLimiter StartDetector Started Stop Ticker "
        "TreeUsage cpu_percent events exit_severity fit_json last_output line_text"
    ),
    "log_parser.core": names(
        "PARSERS FormatCounter LineParser ParseError Request Tally counter_for detect_format is_download "
        "new_parser parse_tarball_path warm_for"
    ),
    "log_parser.core.formats": names(
        "NOTHING_TO_TELL PARSERS CloudFrontParser CombinedParser FastlyParser JsonLinesParser LineParser "
        "detect_format new_parser parse_field_mapping"
    ),
    "log_parser.page": names("Badge Frame PageOptions Series badge_svg line_chart page_routes short_count"),
    "log_parser.live": names(
        "FileFollower LineHandler LineInput ListenerLimits Live LiveOptions follow_file listen_syslog "
        "parse_syslog_url read_stdin"
    ),
    "log_parser.backfill": names(
        "Backfill Credentials Executor InProcess LocalPool NoProgress ObjectInfo ObjectResult Plan ProgressDisplay "
        "Selection Source SourceError Summary Task TerminalProgress interrupt load_credentials parse_source plan "
        "process_object"
    ),
}
#: Public modules that are no package with a surface: the commands, what of the emitter
#: numbatd and numbat-logs share (the event, the backoff), and numba's table and cache-loading helpers.
PUBLIC_MODULES = {
    "emitter.backoff", "emitter.cli", "emitter.event", "jit.tables", "jit.loading",
    "collector.cli", "collector.__main__", "log_parser.cli", "log_parser.__main__", "monitor.cli", "monitor.__main__",
}  # fmt: skip


@pytest.mark.parametrize("package_name", sorted(SURFACES))
def test_all_is_the_declared_surface(package_name: str) -> None:
    package = importlib.import_module(package_name)
    assert sorted(package.__all__) == sorted(SURFACES[package_name])
    assert [name for name in package.__all__ if not hasattr(package, name)] == []


@pytest.mark.parametrize("package_name", sorted(SURFACES))
def test_what_else_a_package_shows_is_a_submodule_or_not_its_own(package_name: str) -> None:
    """A public name outside ``__all__`` is a submodule, or something imported from
    elsewhere to write the package (``Path``, ``Any``): nothing of numbat's own."""
    package = importlib.import_module(package_name)
    top = package_name.partition(".")[0]
    others = {name: getattr(package, name) for name in dir(package) if not name.startswith("_")}
    own = [
        name
        for name, value in others.items()
        if name not in package.__all__
        and not isinstance(value, types.ModuleType)
        and (getattr(value, "__module__", None) or "").partition(".")[0] == top
    ]
    assert own == []


@pytest.mark.parametrize("top", ["emitter", "collector", "log_parser", "jit", "monitor"])
def test_every_other_module_is_internal(top: str) -> None:
    public = {
        info.name
        for info in pkgutil.walk_packages([str(ROOT / top)], prefix=f"{top}.")
        if not any(part.startswith("_") and part != "__main__" for part in info.name.split("."))
    }
    declared = {name for name in (set(SURFACES) | PUBLIC_MODULES) if name.startswith(f"{top}.")}
    assert public | {name for name in declared if name.endswith("__main__")} == declared


def test_the_collectors_surface_is_what_its_packages_export() -> None:
    """``collector``'s names are loaded on first use; each is its home package's own."""
    assert collector.load_config is config.load_config
    assert collector.Sink is sinks.Sink
    assert collector.SINK_TYPES is sinks.SINK_TYPES
    assert collector.decoder_for is wire.decoder_for
    with pytest.raises(AttributeError):
        collector.nothing_of_that_name  # noqa: B018
