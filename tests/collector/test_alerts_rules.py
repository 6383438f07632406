"""Alert rules' options: each bad value refused where it is written, naming its key; a
rule built from a TOML table through the configuration's own checker (collector.config's
``build``), as the sink's configuration will; and, over drawn tables of usual and edge
values, every table either makes a rule an engine runs or is refused with a
ValueError, never another error."""

from __future__ import annotations

import dataclasses
import math
import tomllib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collector.alerts import (
    RULE_TYPES,
    AbsentRule,
    AlertEngine,
    HeartbeatRule,
    RatioRule,
    StatusRule,
    ThresholdRule,
    check_rules,
)
from collector.config._checks import ConfigError, build


@pytest.mark.parametrize(
    ("kind", "options", "key"),
    [
        (StatusRule, {"name": ""}, "name"),
        (StatusRule, {"name": "a/b"}, "name"),
        (StatusRule, {"name": "s", "remediation": ("",)}, "remediation"),
        (StatusRule, {"name": "s", "remediate_after": 0}, "remediate_after"),
        (StatusRule, {"name": "s", "renotify": -1}, "renotify"),
        (StatusRule, {"name": "s", "flap_hold": math.inf}, "flap_hold"),
        (StatusRule, {"name": "s", "max_keys": 0}, "max_keys"),
        (StatusRule, {"name": "s", "for_seconds": -1}, "for_seconds"),
        (StatusRule, {"name": "s", "for_evaluations": 0}, "for_evaluations"),
        (StatusRule, {"name": "s", "expire": math.nan}, "expire"),
        (StatusRule, {"name": "s", "key_fields": ("host", "host")}, "key_fields"),
        (StatusRule, {"name": "s", "key_fields": ("name",)}, "key_fields"),
        (HeartbeatRule, {"name": "h", "key_fields": ("app",)}, "key_fields"),
        (HeartbeatRule, {"name": "h", "default_ttl": 0}, "default_ttl"),
        (HeartbeatRule, {"name": "h", "default_ttl": 0.0001}, "default_ttl"),
        (HeartbeatRule, {"name": "h", "default_ttl": 1e12}, "default_ttl"),
        (HeartbeatRule, {"name": "h", "severity": "ok"}, "severity"),
        (HeartbeatRule, {"name": "h", "match": ""}, "match"),
        (ThresholdRule, {"name": "t", "match": "x"}, "bounds"),
        (ThresholdRule, {"name": "t", "match": "x", "critical_above": math.inf}, "critical_above"),
        (ThresholdRule, {"name": "t", "match": "x", "critical_above": 1, "warning_above": 2}, "critical_above"),
        (ThresholdRule, {"name": "t", "match": "x", "critical_below": 3, "warning_below": 2}, "critical_below"),
        (ThresholdRule, {"name": "t", "match": "x", "critical_above": 1, "statistic": "median"}, "statistic"),
        (ThresholdRule, {"name": "t", "match": "x", "critical_above": 1, "statistic": "p101"}, "statistic"),
        (ThresholdRule, {"name": "t", "match": "x", "critical_above": 1, "statistic": "p0"}, "statistic"),
        (ThresholdRule, {"name": "t", "match": "x", "critical_above": 1, "window": 0}, "window"),
        (ThresholdRule, {"name": "t", "match": "x", "critical_above": 1, "field": ""}, "field"),
        (ThresholdRule, {"name": "t", "match": "x", "critical_above": 1, "where": {"a": 1}}, "where"),
        (ThresholdRule, {"name": "t", "match": "x", "critical_above": 1, "max_samples": 0}, "max_samples"),
        (ThresholdRule, {"name": "t", "match": "x", "critical_above": 1, "evaluate_every": 0}, "evaluate_every"),
        (AbsentRule, {"name": "a", "match": "x", "after": 0}, "after"),
        (RatioRule, {"name": "r", "numerator": "", "denominator": "d", "critical_above": 1}, "numerator"),
        (
            RatioRule,
            {"name": "r", "numerator": "n", "denominator": "d", "critical_above": 1, "min_volume": -1},
            "min_volume",
        ),
    ],
)
def test_a_bad_option_is_refused_by_its_key(kind: type, options: dict[str, Any], key: str) -> None:
    with pytest.raises(ValueError, match=f"^{key}: "):
        kind(**options)


def test_the_defaults() -> None:
    heartbeat = HeartbeatRule(name="hb")
    assert (heartbeat.match, heartbeat.shutdown_match, heartbeat.key_fields) == ("*.heartbeat", "*.shutdown", ("host",))
    assert (heartbeat.default_ttl, heartbeat.severity) == (60.0, "critical")
    assert (heartbeat.renotify, heartbeat.flap_hold, heartbeat.max_keys) == (0.0, 60.0, 100_000)
    assert (heartbeat.remediation, heartbeat.remediate_after) == ((), None)
    status = StatusRule(name="st")
    assert (status.match, status.key_fields, status.expire) == ("*", ("host",), 300.0)
    assert (status.for_seconds, status.for_evaluations) == (0.0, 1)
    threshold = ThresholdRule(name="t", match="x", critical_above=1)
    assert (threshold.field, threshold.statistic, threshold.window, threshold.evaluate_every) == (
        "value",
        "last",
        60.0,
        10.0,
    )
    assert (threshold.max_samples, threshold.where, threshold.key_fields) == (10_000, {}, ("host",))
    ratio = RatioRule(name="r", numerator="n", denominator="d", critical_above=0.1)
    assert (ratio.field, ratio.window, ratio.min_volume) == ("", 300.0, 100.0)
    absent = AbsentRule(name="a", match="x", after=5)
    assert (absent.key_fields, absent.severity) == ((), "critical")
    assert {kind: cls.kind for kind, cls in RULE_TYPES.items()} == {kind: kind for kind in RULE_TYPES}


def test_rule_names_are_unique() -> None:
    with pytest.raises(ValueError, match="two rules are named 'x'"):
        check_rules([StatusRule(name="x"), HeartbeatRule(name="x")])
    with pytest.raises(ValueError, match="two rules"):
        AlertEngine([StatusRule(name="x"), StatusRule(name="x")])


TOML = """
[[rules]]
kind = "threshold"
name = "load"
match = "*.load-average.1"
field = "value"
statistic = "mean"
window = 300
warning_above = 4
critical_above = 8.5
for_evaluations = 2
key_fields = ["host"]
where = { env = "prod*" }
remediation = ["/usr/local/bin/shed-load", "--now"]
remediate_after = 2

[[rules]]
kind = "ratio"
name = "5xx"
numerator = "*.response"
numerator_where = { status = "5*" }
denominator = "*.response"
critical_above = 0.05
min_volume = 50
"""


def test_a_rule_builds_from_its_toml_table_with_the_configuration_checker() -> None:
    rules = []
    for i, table in enumerate(tomllib.loads(TOML)["rules"]):
        options = {key: value for key, value in table.items() if key != "kind"}
        rules.append(build(RULE_TYPES[table["kind"]], options, f"sinks[0].rules[{i}]"))
    load, errors = rules
    assert load == ThresholdRule(
        name="load",
        match="*.load-average.1",
        statistic="mean",
        window=300.0,
        warning_above=4.0,
        critical_above=8.5,
        for_evaluations=2,
        where={"env": "prod*"},
        remediation=("/usr/local/bin/shed-load", "--now"),
        remediate_after=2,
    )
    assert errors.numerator_where == {"status": "5*"}
    with pytest.raises(ConfigError, match=r"^sinks\[0\]\.rules\[1\]\.window: must be more than 0 seconds"):
        build(ThresholdRule, {"name": "x", "match": "x", "critical_above": 1, "window": -1}, "sinks[0].rules[1]")
    with pytest.raises(ConfigError, match=r"statistic: must be one of"):
        build(ThresholdRule, {"name": "x", "match": "x", "critical_above": 1, "statistic": "avg"}, "rules[0]")
    with pytest.raises(ConfigError, match=r"unknown key"):
        build(StatusRule, {"name": "x", "for": 2}, "rules[0]")


# -- any table: a rule, or a ValueError ------------------------------------------------------

USUAL: dict[type, list[Any]] = {
    float: [0.0, 0.5, 1.0, 30.0, 86_400.0, -1.0, math.inf, math.nan, 1e12],
    int: [0, 1, 2, 3, 1000, -1, 2**40],
    str: ["", "x", "web.*", "a/b", "p99", "p101", "last", "rate"],
}
VALUES = st.one_of(
    st.sampled_from([v for values in USUAL.values() for v in values]),
    st.none(),
    st.booleans(),
    st.lists(st.sampled_from(["host", "", "name", "app", "node"]), max_size=3),
    st.dictionaries(st.sampled_from(["status", "", "env"]), st.sampled_from(["5*", "", 3]), max_size=2),
)


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(sorted(RULE_TYPES)), st.data())
def test_any_table_makes_a_working_rule_or_a_clear_refusal(kind: str, data: st.DataObject) -> None:
    cls = RULE_TYPES[kind]
    names = [f.name for f in dataclasses.fields(cls)]
    table = data.draw(st.dictionaries(st.sampled_from(names), VALUES, max_size=6))
    table.setdefault("name", "r")
    try:
        rule = build(cls, table, "rules[0]")
    except ValueError as exc:  # ConfigError is one
        refusal = str(exc)
    else:
        refusal = ""
    if refusal:
        assert refusal.startswith("rules[0]."), refusal
        return
    engine = AlertEngine([rule])
    events = [
        {"name": "web.heartbeat", "host": "a", "ttl": 10, "status": "critical", "value": 5},
        {"name": "web.response", "status": 500, "value": 1},
        {"name": "x", "host": "a", "value": 1e9},
    ]
    for now in (0, 1000, 10**8):
        engine.observe(events, now)
        engine.tick(now + 500)
    assert engine.stats.failed == 0, engine.stats.last_error
