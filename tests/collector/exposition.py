"""Test helpers for the prometheus sink: make one from its keys, read its page back with an
independent parser, check the text format's grammar line by line, and run the real
``promtool check metrics`` over many pages in one go.

The grammar check is written from the format's description (version 0.0.4), not from
the sink's code: names ``[a-zA-Z_][a-zA-Z0-9_]*``, label values with only ``\\\\``,
``\\"`` and ``\\n`` escapes, each family one block of HELP, TYPE and samples of its own
names, no series twice, histograms' buckets cumulated up to ``+Inf`` = ``_count``.
"""

from __future__ import annotations

import math
import re
import shutil
import subprocess
from collections.abc import Iterable
from typing import Any

from collector.config import parse_config
from collector.observe import SelfMetrics, SinkStats
from collector.sinks import SINK_TYPES, PrometheusSink
from collector.wire import Batch

_NAME = r"[a-zA-Z_][a-zA-Z0-9_]*"
_VALUE = r'(?:[^"\\\n]|\\\\|\\"|\\n)*'
_LABEL = rf'({_NAME})="({_VALUE})"'
_NUMBER = r"NaN|[+-]Inf|[+-]?(?:\d+\.?\d*(?:e[+-]?\d+)?|\.\d+(?:e[+-]?\d+)?)"
_SAMPLE = re.compile(rf"(?P<name>{_NAME})(?:\{{(?P<labels>{_LABEL}(?:,{_LABEL})*)?\}})? (?P<value>{_NUMBER})")
_HELP = re.compile(rf"# HELP ({_NAME}) ((?:[^\\\n]|\\\\|\\n)*)")
_TYPE = re.compile(rf"# TYPE ({_NAME}) (counter|gauge|histogram|summary)")
_LABELS = re.compile(_LABEL)
SUFFIXES = {
    "counter": ("",),
    "gauge": ("",),
    "histogram": ("_bucket", "_sum", "_count"),
    "summary": ("", "_sum", "_count"),
}

Key = tuple[str, frozenset[tuple[str, str]]]


def prometheus_sink(input: str = "raw", metrics: SelfMetrics | None = None, **options: Any) -> PrometheusSink:
    """A prometheus sink made from its keys (checked as numbatd checks them), not opened;
    its self-metrics, labelled sink="prometheus", in ``metrics``."""
    table: dict[str, Any] = {
        "listeners": [{"url": "udp://127.0.0.1:9"}],
        "sinks": [{"type": "prometheus", "listen": "127.0.0.1:0", "input": input, **options}],
    }
    if input != "raw":
        table["aggregations"] = [{"name": input}]
    config = parse_config(table, SINK_TYPES)
    stats = SinkStats(metrics or SelfMetrics(), "prometheus", "prometheus")
    sink = SINK_TYPES["prometheus"].sink(config.sinks[0], stats)
    assert isinstance(sink, PrometheusSink)
    return sink


def absorb(sink: PrometheusSink, events: Iterable[dict[str, Any]], now: float = 0.0) -> dict[str, int]:
    """Fold ``events`` into the sink's page at ``now``; what was skipped, by reason."""
    skipped: dict[str, int] = {}
    sink.absorber.absorb(list(events), now, skipped)
    return skipped


def batch(*events: dict[str, Any]) -> Batch:
    made = Batch()
    for event in events:
        made.add(event)
    return made


def unescape(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"n": "\n"}.get(m.group(1), m.group(1)), text)


def parse_page(page: bytes) -> dict[Key, float]:
    """Every sample of a page that passes :func:`check_page`, by name and labels."""
    samples: dict[Key, float] = {}
    for line in page.decode().split("\n")[:-1]:
        if line.startswith("#"):
            continue
        found = _SAMPLE.fullmatch(line)
        assert found, line
        labels = frozenset((name, unescape(value)) for name, value in _LABELS.findall(found["labels"] or ""))
        samples[(found["name"], labels)] = _number(found["value"])
    return samples


def check_page(page: bytes) -> None:
    """Assert that ``page`` is valid text format, by the format's rules (see the module)."""
    text = page.decode("utf-8")  # raises on invalid UTF-8
    assert not text or text.endswith("\n")
    families: dict[str, str] = {}
    current: tuple[str, str] | None = None
    seen: set[Key] = set()
    histograms: dict[tuple[str, frozenset[tuple[str, str]]], list[tuple[float, float]]] = {}
    counts: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    lines = text.split("\n")[:-1]  # lines end at \\n alone, not at \\x1e or \\u2028
    index = 0
    while index < len(lines):
        line = lines[index]
        if line.startswith("# HELP "):
            help_line = _HELP.fullmatch(line)
            assert help_line, line
            type_line = _TYPE.fullmatch(lines[index + 1]) if index + 1 < len(lines) else None
            assert type_line, f"no TYPE after {line!r}"
            name = help_line.group(1)
            assert type_line.group(1) == name, (line, lines[index + 1])
            assert name not in families, f"family {name} twice"
            families[name] = type_line.group(2)
            current = (name, type_line.group(2))
            index += 2
            continue
        assert not line.startswith("#"), line
        found = _SAMPLE.fullmatch(line)
        assert found, f"not a sample: {line!r}"
        assert current is not None, f"a sample before any family: {line!r}"
        name, kind = current
        sample_name = found["name"]
        assert sample_name in {name + suffix for suffix in SUFFIXES[kind]}, (sample_name, kind)
        pairs = _LABELS.findall(found["labels"] or "")
        label_names = [label for label, _ in pairs]
        assert len(set(label_names)) == len(label_names), f"a label twice: {line!r}"
        assert not any(label.startswith("__") for label in label_names), line
        assert all(value for _, value in pairs), f"an empty label value: {line!r}"
        labels = frozenset((label, unescape(value)) for label, value in pairs)
        key = (sample_name, labels)
        assert key not in seen, f"a series twice: {line!r}"
        seen.add(key)
        value = _number(found["value"])
        if kind == "counter":
            assert sample_name.endswith("_total"), sample_name
        if kind == "histogram":
            rest = frozenset(pair for pair in labels if pair[0] != "le")
            if sample_name.endswith("_bucket"):
                le = dict(labels)["le"]
                histograms.setdefault((name, rest), []).append((_number(le), value))
            elif sample_name.endswith("_count"):
                counts[(name, rest)] = value
        if kind == "summary" and sample_name == name:
            assert 0 <= float(dict(labels)["quantile"]) <= 1, line
        index += 1
    for series, buckets in histograms.items():
        bounds = [bound for bound, _ in buckets]
        assert bounds == sorted(bounds), (series, bounds)
        assert bounds[-1] == math.inf, (series, bounds)
        values = [value for _, value in buckets]
        assert values == sorted(values), (series, values)
        assert values[-1] == counts[series], (series, values, counts.get(series))


def _number(text: str) -> float:
    return {"NaN": math.nan, "+Inf": math.inf, "-Inf": -math.inf}.get(text) or float(text)


#: promtool's lint problems that come from the names an operator chose (camelCase, units
#: in names, a gauge called x_total...): style, not validity. Anything else fails.
STYLE_PROBLEMS = (
    "metric names should be written in 'snake_case' not 'camelCase'",
    "label names should be written in 'snake_case' not 'camelCase'",
    "metric names should not contain abbreviated units",
    "use base unit",
    "metric name should not include type",
    'non-counter metrics should not have "_total" suffix',
    'non-histogram and non-summary metrics should not have "_count" suffix',
    'non-histogram and non-summary metrics should not have "_sum" suffix',
    'non-histogram metrics should not have "_bucket" suffix',
    'non-histogram metrics should not have "le" label',
    'non-summary metrics should not have "quantile" label',
)


def promtool() -> str:
    binary = shutil.which("promtool")
    if binary is None:
        raise RuntimeError("promtool is not installed; ./run-tests installs Debian's prometheus package")
    return binary


def promtool_problems(page: bytes) -> list[str]:
    """What ``promtool check metrics`` says of ``page`` beyond style: parse errors, lint
    problems not in STYLE_PROBLEMS."""
    result = subprocess.run([promtool(), "check", "metrics"], input=page, capture_output=True, timeout=60)
    said = (result.stdout + result.stderr).decode(errors="replace").splitlines()
    problems = [line for line in said if line.strip() and not any(style in line for style in STYLE_PROBLEMS)]
    if result.returncode not in (0, 3) and not problems:
        problems = [f"exit status {result.returncode}", *said]
    return problems


def prefixed(page: bytes, prefix: str) -> bytes:
    """``page`` with every family's and sample's name prefixed, so many pages can be
    checked as one (their families then never meet)."""
    out = []
    for line in page.decode().split("\n")[:-1]:
        if line.startswith(("# HELP ", "# TYPE ")):
            out.append(line[:7] + prefix + line[7:] + "\n")
        else:
            out.append(prefix + line + "\n")
    return "".join(out).encode()


def promtool_check_all(pages: list[bytes]) -> list[str]:
    """promtool over every page at once; on a problem, the first page that has it, alone."""
    problems = promtool_problems(b"".join(prefixed(page, f"p{i}_") for i, page in enumerate(pages)))
    if not problems:
        return []
    for page in pages:
        alone = promtool_problems(page)
        if alone:
            return [*alone, "in the page:", page.decode(errors="replace")]
    return problems
