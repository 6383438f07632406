"""deploy/grafana/ as the tests read it: the dashboards, the provisioned datasources, and
each panel's query with Grafana's macros replaced as Grafana replaces them before it sends
the query (Grafana itself is not in Debian; the queries run against the real servers).

What Grafana does, and what is done here:

- ``$__interval`` is the panel's time step: the time range over the panel's data points,
  at least the panel's ``interval`` (its "min interval") or else the datasource's
  ``timeInterval``. The tests choose the step and take the larger of it and that minimum;
  it is written as Grafana writes it (``10s``, ``1m``, ``500ms``); ``$__interval_ms`` is
  the same in milliseconds.
- ``$__rate_interval`` (Prometheus) is ``max($__interval + scrape interval, 4 * scrape
  interval)``, the scrape interval being the datasource's ``timeInterval`` (the tests pass
  their Prometheus's own).
- ``$timeFilter`` (InfluxQL) is ``time >= {from}ms and time <= {to}ms``, the range in epoch
  milliseconds, as Grafana's backend writes it.
- A multi-value variable set to "All" with ``allValue`` ``.*`` becomes ``.*``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import orjson
import yaml

GRAFANA = Path(__file__).parent.parent / "deploy" / "grafana"
DASHBOARD_FILES = sorted((GRAFANA / "dashboards").glob("*.json"))
DATASOURCES_FILE = GRAFANA / "provisioning" / "datasources" / "numbat.yaml"
PROVIDERS_FILE = GRAFANA / "provisioning" / "dashboards" / "numbat.yaml"


def load(name: str) -> dict[str, Any]:
    """A dashboard by its file name (``numbatd-health.json``)."""
    return orjson.loads((GRAFANA / "dashboards" / name).read_bytes())  # type: ignore[no-any-return]


def datasources() -> dict[str, dict[str, Any]]:
    """The provisioned datasources by uid."""
    return {source["uid"]: source for source in yaml.safe_load(DATASOURCES_FILE.read_text())["datasources"]}


def queries(dashboard: Mapping[str, Any]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """Every (panel, target) of a dashboard."""
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            yield panel, target


_UNITS = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))


def duration_seconds(text: str) -> float:
    """``10s``, ``1m``, ``500ms`` in seconds."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)", text)
    if match is None:
        raise ValueError(f"not a Grafana duration: {text!r}")
    number, unit = float(match[1]), match[2]
    return number / 1000 if unit == "ms" else number * dict(_UNITS)[unit]


def interval_text(seconds: float) -> str:
    """Seconds as Grafana writes an interval: the largest whole unit, else milliseconds."""
    for unit, size in _UNITS:
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{round(seconds * 1000)}ms"


def panel_interval(panel: Mapping[str, Any], step: float, datasource_interval: float | None = None) -> float:
    """The panel's ``$__interval`` in seconds for a chosen ``step``: at least its min interval,
    or else its datasource's ``timeInterval`` (``datasource_interval`` in place of the
    provisioned one: a test's Prometheus scrapes faster than a fleet's)."""
    if panel.get("interval"):
        return max(step, duration_seconds(panel["interval"]))
    if datasource_interval is not None:
        return max(step, datasource_interval)
    floor = datasources()[panel["datasource"]["uid"]].get("jsonData", {}).get("timeInterval")
    return max(step, duration_seconds(floor)) if floor else step


def influxql(query: str, start: float, end: float, interval: float) -> str:
    """An InfluxQL query with Grafana's macros replaced: the range ``start``..``end`` (seconds
    since the epoch), the panel's interval in seconds."""
    time_filter = f"time >= {round(start * 1000)}ms and time <= {round(end * 1000)}ms"
    text = query.replace("$timeFilter", time_filter)
    text = text.replace("$__interval_ms", str(round(interval * 1000))).replace("$__interval", interval_text(interval))
    assert "$" not in text, text
    return text


def promql(expr: str, interval: float, scrape_interval: float, variables: Mapping[str, str]) -> str:
    """A PromQL expression with Grafana's macros and the dashboard's variables replaced."""
    rate_interval = max(interval + scrape_interval, 4 * scrape_interval)
    text = expr.replace("$__rate_interval", interval_text(rate_interval)).replace(
        "$__interval", interval_text(interval)
    )
    for name, value in variables.items():
        text = text.replace(f"${name}", value)
    assert "$" not in text, text
    return text
