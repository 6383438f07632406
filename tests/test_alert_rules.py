"""deploy/prometheus/: the rules pass ``promtool check rules``, the example configuration
``promtool check config``, and ``promtool test rules`` holds each alert firing and not
firing (numbat.rules.test.yml).

That the unit tests bite is checked here too: each alert is weakened in a copy of the
rules (a guard of its expression taken away, or its ``for``), and the same unit tests must
then fail; and each alert removed must fail them (its firing is expected somewhere).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

RULES_DIR = Path(__file__).parent.parent / "deploy" / "prometheus"
RULES = RULES_DIR / "numbat.rules.yml"
RULE_TESTS = RULES_DIR / "numbat.rules.test.yml"

pytestmark = pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not installed")

#: Each alert with its expression loosened (a guard taken away), or its ``for`` dropped:
#: what the unit tests' "not firing" cases are there to catch.
WEAKENED: dict[str, dict[str, object]] = {
    "NumbatdDown": {"for": None},
    "NumbatSinkNotDelivering": {
        "expr": "time() - numbat_sink_last_delivery_timestamp_seconds"
        '{type=~"influxdb|graphite|prometheus_remote_write|forward"} > 300'
        " and on (job, instance) (time() - process_start_time_seconds > 300)"
    },
    "NumbatSpoolGrowing": {"expr": "numbat_sink_spool_bytes > 0"},
    "NumbatEventsDropped": {"expr": "instance_sink_cause:numbat_sink_dropped_events:rate5m >= 0"},
    "NumbatListenerRejecting": {"expr": "instance_listener:numbat_listener_rejected_lines:rate5m > 0"},
    "NumbatListenerSilent": {
        "expr": "sum by (job, instance, listener)"
        " (increase(numbat_listener_received_messages_total[6h] offset 15m)) > 0"
        " unless on (job, instance, listener)"
        " sum by (job, instance, listener) (increase(numbat_listener_received_messages_total[15m])) > 0"
    },
    "NumbatdRestarted": {"expr": 'changes(process_start_time_seconds{job="numbatd"}[1h]) > 0'},
    "NumbatdRestartLoop": {"expr": 'changes(process_start_time_seconds{job="numbatd"}[30m]) >= 2'},
    "NumbatdReloadFailed": {"expr": "increase(numbat_config_reloads_total[15m]) > 0"},
}


def promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["promtool", *args], capture_output=True, text=True, timeout=120, cwd=cwd, check=False)


def alerts(rules: dict) -> list[dict]:
    return [rule for group in rules["groups"] for rule in group["rules"] if "alert" in rule]


def test_the_rules_check() -> None:
    result = promtool("check", "rules", str(RULES), cwd=RULES_DIR)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_example_configuration_checks_with_its_rules() -> None:
    result = promtool("check", "config", "prometheus.example.yml", cwd=RULES_DIR)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "numbat.rules.yml" in result.stdout


def test_the_unit_tests_pass() -> None:
    result = promtool("test", "rules", RULE_TESTS.name, cwd=RULES_DIR)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_is_tested_and_weakened_here() -> None:
    names = {rule["alert"] for rule in alerts(yaml.safe_load(RULES.read_text()))}
    tested = {
        case["alertname"]
        for group in yaml.safe_load(RULE_TESTS.read_text())["tests"]
        for case in group.get("alert_rule_test", [])
    }
    assert names == tested == set(WEAKENED)


def run_tests_on(rules: dict, folder: Path) -> subprocess.CompletedProcess[str]:
    """The unit tests against ``rules`` written in place of numbat.rules.yml."""
    (folder / RULES.name).write_text(yaml.safe_dump(rules, sort_keys=False))
    shutil.copy(RULE_TESTS, folder / RULE_TESTS.name)
    return promtool("test", "rules", RULE_TESTS.name, cwd=folder)


@pytest.mark.parametrize("name", sorted(WEAKENED))
def test_the_tests_catch_a_weakened_alert(name, tmp_path) -> None:
    rules = yaml.safe_load(RULES.read_text())
    (rule,) = [rule for rule in alerts(rules) if rule["alert"] == name]
    for key, value in WEAKENED[name].items():
        if value is None:
            assert key in rule
            del rule[key]
        else:
            rule[key] = value
    result = run_tests_on(rules, tmp_path)
    assert result.returncode != 0
    assert f"alertname: {name}," in result.stdout + result.stderr


@pytest.mark.parametrize("name", sorted(WEAKENED))
def test_the_tests_catch_a_missing_alert(name, tmp_path) -> None:
    rules = yaml.safe_load(RULES.read_text())
    for group in rules["groups"]:
        group["rules"] = [rule for rule in group["rules"] if rule.get("alert") != name]
    result = run_tests_on(rules, tmp_path)
    assert result.returncode != 0
    assert f"alertname: {name}," in result.stdout + result.stderr
