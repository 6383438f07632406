"""A summary's Graphite paths, as Etsy statsd's Graphite backend writes them.

Pure: a summary in, ``(path, value)`` pairs out; the Graphite sink adds the time and
writes the lines. The namespaces follow backends/graphite.js: by default statsd's
current layout (``legacyNamespace: false``): ``stats.counters.<name>.rate`` and
``.count``, ``stats.timers.<name>.<statistic>`` (bins under ``.histogram``),
``stats.gauges.<name>``, ``stats.sets.<name>.count``, each prefix configurable; or the
legacy one (``stats.<name>`` for a counter's rate, ``stats_counts.<name>`` for its
count). Key fields become Graphite tags after the path (``;env=prod``; a bare DogStatsD
tag ``;canary``), and the name and tags are cleaned as statsd's ``keyNameSanitize``
does: blanks to ``_``, ``/`` to ``-``, anything but letters, digits, ``_-.;=`` removed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ._summary import OWN_FIELDS, Summary, is_statistic
from ._timers import js_number

_BLANKS = re.compile(r"\s+")
_UNSAFE = re.compile(r"[^a-zA-Z_\-0-9.;=]")


@dataclass(frozen=True)
class GraphiteNaming:
    """statsd's Graphite options (``graphite.globalPrefix`` and the others)."""

    global_prefix: str = "stats"
    prefix_counter: str = "counters"
    prefix_timer: str = "timers"
    prefix_gauge: str = "gauges"
    prefix_set: str = "sets"
    global_suffix: str = ""
    legacy_namespace: bool = False
    flush_counts: bool = True  # a counter's count beside its rate
    sanitize: bool = True

    def namespace(self, kind: str) -> list[str]:
        if self.legacy_namespace:
            return {"counter": ["stats"], "timer": ["stats", "timers"], "gauge": ["stats", "gauges"]}.get(
                kind, ["stats", "sets"]
            )
        prefix = {
            "counter": self.prefix_counter,
            "timer": self.prefix_timer,
            "gauge": self.prefix_gauge,
            "set": self.prefix_set,
        }[kind]
        return [part for part in (self.global_prefix, prefix) if part]


def sanitize(key: str) -> str:
    """statsd's sanitizeKeyName."""
    return _UNSAFE.sub("", _BLANKS.sub("_", key).replace("/", "-"))


def _tag(field: str, value: object) -> str:
    if value is True:
        text = field
    else:
        if isinstance(value, bool):
            shown = "true" if value else "false"
        elif isinstance(value, int | float):
            shown = js_number(float(value))
        else:
            shown = str(value)
        text = f"{field}={shown}"
    return text.replace(";", "_", 1)


def graphite_paths(summary: Summary, naming: GraphiteNaming | None = None) -> list[tuple[str, float]]:
    """The Graphite paths and values statsd would write for ``summary``."""
    naming = naming or GraphiteNaming()
    kind = summary["kind"]
    tags = "".join(
        ";" + _tag(field, value)
        for field, value in summary.items()
        if field not in OWN_FIELDS and not is_statistic(field)
    )
    key = str(summary["name"]) + tags
    if naming.sanitize:
        key = sanitize(key)
    name, _, tag_text = key.partition(";")
    after = naming.global_suffix and "." + naming.global_suffix
    after += ";" + tag_text if tag_text else ""
    base = naming.namespace(kind)

    def path(*parts: str, namespace: list[str] = base) -> str:
        return ".".join([*namespace, name, *parts]) + after

    if kind == "counter":
        if naming.legacy_namespace:
            paths = [(path(), summary["rate"])]
            if naming.flush_counts:
                paths.append((path(namespace=["stats_counts"]), summary["count"]))
            return paths
        paths = [(path("rate"), summary["rate"])]
        if naming.flush_counts:
            paths.append((path("count"), summary["count"]))
        return paths
    if kind == "gauge":
        return [(path(), summary["value"])]
    if kind == "set":
        return [(path("count"), summary["count"])]
    return [
        (path("histogram", field) if field.startswith("bin_") else path(field), value)
        for field, value in summary.items()
        if field not in OWN_FIELDS and is_statistic(field)
    ]
