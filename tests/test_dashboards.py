"""deploy/grafana/: the dashboards have the fields Grafana requires of a dashboard it
provisions, and name only the datasources the provisioning file gives.

Grafana is not in Debian, so this is our own check of its dashboard model
(schemaVersion 39): the dashboard's ``uid`` (at most 40 of ``[A-Za-z0-9_-]``), ``title``,
``schemaVersion``, ``time``, ``panels``; each panel's unique integer ``id``, ``type``,
``title`` and ``gridPos`` (``h``, ``w``, ``x``, ``y``: whole numbers in the 24-column grid,
no two panels overlapping); each target's ``refId`` (unique in its panel) and query
(``expr`` for Prometheus; ``query`` with ``rawQuery`` for InfluxQL, or Grafana builds the
query from its editor's fields instead); every datasource reference a provisioned
``{type, uid}``. And no ``__inputs`` or ``${DS_...}``: provisioning does not resolve them.
The queries themselves run against the real servers in tests/collector/test_dashboards_pipeline.py.
"""

from __future__ import annotations

import fnmatch
import re
import tomllib
from typing import Any

import pytest
import yaml

from .grafana_dashboards import DASHBOARD_FILES, DATASOURCES_FILE, PROVIDERS_FILE, datasources, load, queries

UID = re.compile(r"[A-Za-z0-9_-]{1,40}")
NAMES = [path.name for path in DASHBOARD_FILES]


def problems(dashboard: dict[str, Any], sources: dict[str, dict[str, Any]]) -> list[str]:
    """What Grafana would refuse or misread in a dashboard, in words; empty when none."""
    found: list[str] = []
    if "__inputs" in dashboard or "${DS_" in repr(dashboard):
        found.append("__inputs or ${DS_...}: provisioning does not resolve them")
    for key, kind in (("uid", str), ("title", str), ("schemaVersion", int), ("panels", list), ("time", dict)):
        if not isinstance(dashboard.get(key), kind):
            found.append(f"dashboard: {key} missing or not a {kind.__name__}")
    if isinstance(dashboard.get("uid"), str) and not UID.fullmatch(dashboard["uid"]):
        found.append(f"dashboard: uid {dashboard['uid']!r}")
    if not {"from", "to"} <= set(dashboard.get("time") or {}):
        found.append("dashboard: time needs from and to")
    found += variable_problems(dashboard, sources)
    ids: set[int] = set()
    cells: dict[tuple[int, int], int] = {}
    for index, panel in enumerate(dashboard.get("panels") or []):
        where = f"panel {panel.get('id', index)} {panel.get('title')!r}"
        for key, kind in (("id", int), ("type", str), ("title", str), ("gridPos", dict)):
            if not isinstance(panel.get(key), kind) or isinstance(panel.get(key), bool):
                found.append(f"{where}: {key} missing or not a {kind.__name__}")
        if panel.get("id") in ids:
            found.append(f"{where}: id used twice")
        ids.add(panel.get("id"))
        found += grid_problems(where, panel, cells)
        if panel.get("type") != "row":
            found += source_problems(where, panel.get("datasource"), sources)
            found += target_problems(where, panel, sources)
    return found


def variable_problems(dashboard: dict[str, Any], sources: dict[str, dict[str, Any]]) -> list[str]:
    """The dashboard's variables: named, typed, and on a provisioned datasource."""
    found = []
    for variable in dashboard.get("templating", {}).get("list", []):
        if not variable.get("name") or not variable.get("type"):
            found.append(f"variable {variable!r}: name and type required")
        if "datasource" in variable:
            found += source_problems(f"variable {variable.get('name')}", variable["datasource"], sources)
    return found


def source_problems(where: str, reference: Any, sources: dict[str, dict[str, Any]]) -> list[str]:
    """A datasource reference must be a provisioned ``{type, uid}``."""
    if not isinstance(reference, dict) or set(reference) != {"type", "uid"}:
        return [f"{where}: datasource must be {{type, uid}}, got {reference!r}"]
    if reference["uid"] not in sources:
        return [f"{where}: datasource uid {reference['uid']!r} is not provisioned"]
    if sources[reference["uid"]]["type"] != reference["type"]:
        return [f"{where}: datasource {reference['uid']!r} is a {sources[reference['uid']]['type']}"]
    return []


def grid_problems(where: str, panel: dict[str, Any], cells: dict[tuple[int, int], int]) -> list[str]:
    """A panel's place in the 24-column grid, marked in ``cells`` (which panel holds each cell)."""
    grid = panel.get("gridPos") or {}
    if not all(isinstance(grid.get(k), int) for k in "hwxy"):
        return [f"{where}: gridPos needs whole h, w, x, y"]
    if not (grid["h"] >= 1 and 1 <= grid["w"] <= 24 and grid["x"] >= 0 and grid["y"] >= 0):
        return [f"{where}: gridPos {grid} out of the grid"]
    if grid["x"] + grid["w"] > 24:
        return [f"{where}: gridPos {grid} past the 24 columns"]
    for x in range(grid["x"], grid["x"] + grid["w"]):
        for y in range(grid["y"], grid["y"] + grid["h"]):
            if (x, y) in cells:
                return [f"{where}: overlaps panel {cells[x, y]}"]
            cells[x, y] = panel.get("id")
    return []


def target_problems(where: str, panel: dict[str, Any], sources: dict[str, dict[str, Any]]) -> list[str]:
    """A panel's queries: present, told apart by refId, each on its panel's datasource and in its language."""
    targets = panel.get("targets")
    if not isinstance(targets, list) or not targets:
        return [f"{where}: no targets"]
    found = []
    refs = [target.get("refId") for target in targets]
    if len(set(refs)) != len(refs) or not all(isinstance(ref, str) and ref for ref in refs):
        found.append(f"{where}: refIds {refs} must be unique texts")
    for target in targets:
        here = f"{where} target {target.get('refId')}"
        reference = target.get("datasource", panel.get("datasource"))
        found += source_problems(here, reference, sources)
        if reference != panel.get("datasource"):
            found.append(f"{here}: another datasource than its panel's")
        kind = reference.get("type") if isinstance(reference, dict) else None
        if kind == "prometheus" and not (isinstance(target.get("expr"), str) and target["expr"].strip()):
            found.append(f"{here}: no expr")
        if kind == "influxdb" and not (
            isinstance(target.get("query"), str) and target["query"].strip() and target.get("rawQuery") is True
        ):
            found.append(f"{here}: no raw query")
    return found


@pytest.mark.parametrize("name", NAMES)
def test_the_dashboard_has_what_grafana_requires(name) -> None:
    assert problems(load(name), datasources()) == []


def test_the_dashboards_have_their_own_uids_and_titles() -> None:
    dashboards = [load(name) for name in NAMES]
    assert (
        len({board["uid"] for board in dashboards}) == len({board["title"] for board in dashboards}) == len(NAMES) == 3
    )


def test_the_datasources_file_provisions_fixed_uids() -> None:
    document = yaml.safe_load(DATASOURCES_FILE.read_text())
    assert document["apiVersion"] == 1
    sources = document["datasources"]
    for source in sources:
        assert {"name", "uid", "type", "access", "url"} <= set(source), source
        assert UID.fullmatch(source["uid"])
        if source["type"] == "influxdb":  # InfluxQL on a database: what the dashboards' raw queries are written in
            assert source["jsonData"]["version"] == "InfluxQL"
            assert source["jsonData"]["dbName"] == source["database"]
    assert len({source["uid"] for source in sources}) == len({source["name"] for source in sources}) == len(sources)
    used = {panel["datasource"]["uid"] for name in NAMES for panel in load(name)["panels"]}
    assert used == {source["uid"] for source in sources}  # each one used, none missing


def test_the_dashboards_provider_reads_files() -> None:
    document = yaml.safe_load(PROVIDERS_FILE.read_text())
    assert document["apiVersion"] == 1
    (provider,) = document["providers"]
    assert provider["type"] == "file"
    assert provider["name"]
    assert provider["options"]["path"].startswith("/")


# -- the check itself finds what it is for -------------------------------------------------


def broken(change, name: str = "numbatd-health.json") -> list[str]:
    dashboard = load(name)
    change(dashboard)
    return problems(dashboard, datasources())


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (lambda board: board.pop("uid"), "uid missing"),
        (lambda board: board.update(__inputs=[]), "__inputs"),
        (lambda board: board["panels"][1].update(id=board["panels"][0]["id"]), "id used twice"),
        (lambda board: board["panels"][0]["gridPos"].pop("w"), "gridPos needs"),
        (lambda board: board["panels"][0]["gridPos"].update(x=20), "past the 24 columns"),
        (lambda board: board["panels"][1]["gridPos"].update(x=0), "overlaps panel 1"),
        (lambda board: board["panels"][0].update(datasource={"type": "prometheus", "uid": "other"}), "not provisioned"),
        (
            lambda board: board["panels"][0].update(datasource={"type": "influxdb", "uid": "numbat-prometheus"}),
            "is a prometheus",
        ),
        (lambda board: board["panels"][0]["targets"][0].update(datasource="${DS_PROMETHEUS}"), "${DS_"),
        (lambda board: board["panels"][0].update(targets=[]), "no targets"),
        (lambda board: board["panels"][0]["targets"][0].pop("expr"), "no expr"),
        (lambda board: board["panels"][0]["targets"].append(dict(board["panels"][0]["targets"][0])), "refIds"),
        (
            lambda board: board["templating"]["list"][0].update(datasource={"type": "prometheus", "uid": "x"}),
            "variable",
        ),
    ],
)
def test_the_check_finds_a_broken_dashboard(change, says) -> None:
    assert any(says in problem for problem in broken(change))


def test_the_check_wants_influxql_written_raw() -> None:
    assert any(
        "no raw query" in problem
        for problem in broken(lambda board: board["panels"][0]["targets"][0].update(rawQuery=False), "downloads.json")
    )


def test_the_example_numbatd_config_writes_what_the_dashboards_read() -> None:
    """deploy/numbatd.example.toml: its raw InfluxDB sink writes the database the raw
    datasource reads, its summaries sink the summaries datasource's, and its aggregation
    makes registry.request.latency a timer keyed by route and status class, with the
    percentiles the registry traffic dashboard reads (upper_50, upper_90, upper_99)."""
    config = tomllib.loads((DATASOURCES_FILE.parents[3] / "numbatd.example.toml").read_text())
    sources = datasources()
    sinks = {sink["name"]: sink for sink in config["sinks"] if sink["type"] == "influxdb"}
    assert sinks["influx"]["bucket"] == sources["numbat-influxdb"]["jsonData"]["dbName"]
    assert sinks["influx"].get("input", "raw") == "raw"
    summaries = sinks["influx-10s"]
    assert summaries["bucket"] == sources["numbat-influxdb-summaries"]["jsonData"]["dbName"]
    (aggregation,) = [item for item in config["aggregations"] if item["name"] == summaries["input"]]
    (rule,) = [rule for rule in aggregation["rules"] if fnmatch.fnmatchcase("registry.request.latency", rule["match"])]
    assert rule["kind"] == "timer"
    assert {"route", "status_class"} <= set(rule["key_fields"])
    text = " ".join(target["query"] for _, target in queries(load("registry-traffic.json")))
    assert set(re.findall(r'"upper_(\d+)"', text)) == {str(p) for p in aggregation["percentiles"]}
