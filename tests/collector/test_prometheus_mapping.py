"""The prometheus sink's mapping rules: globs and regexes, capture references, the order
rules are tried in, drop, types, and the configuration's checks. The glob and template
properties build each rule from a drawn name, so the captures it must give are known
by construction."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from collector.config import ConfigError
from collector.sinks.prometheus._mapping import DROPPED, Mapped, Mapper, MapperDefaults, MappingRule
from collector.sinks.prometheus._templates import expand, parse_template

from .exposition import prometheus_sink

component_text = st.text(st.characters(blacklist_characters=".*$", blacklist_categories=("Cs",)), max_size=6)


def mapper(*rules: dict[str, Any], **defaults: Any) -> Mapper:
    return Mapper(tuple(MappingRule(**rule) for rule in rules), MapperDefaults(**defaults))


def mapped(decision: Mapped | str) -> Mapped:
    assert isinstance(decision, Mapped), decision
    return decision


@st.composite
def globbed_names(draw: st.DrawFn) -> tuple[str, str, list[str]]:
    """(name, a glob made from it, the captures that glob must give): each component kept,
    made a whole ``*``, or cut at a point with ``*`` standing for the rest or the start."""
    components = draw(st.lists(component_text, min_size=1, max_size=5))
    pattern, captures = [], []
    for component in components:
        how = draw(st.sampled_from(["keep", "star", "prefix", "suffix"]))
        at = draw(st.integers(0, len(component)))
        if how == "star":
            pattern.append("*")
            captures.append(component)
        elif how == "prefix":  # "ab*": the rest
            pattern.append(component[:at] + "*")
            captures.append(component[at:])
        elif how == "suffix":  # "*yz": the start
            pattern.append("*" + component[at:])
            captures.append(component[:at])
        else:
            pattern.append(component)
    glob = ".".join(pattern)
    assume(glob != "")  # a rule's match is never empty
    return ".".join(components), glob, captures


@settings(max_examples=300)
@given(globbed_names())
def test_a_glob_matches_its_name_and_captures_each_star(drawn: tuple[str, str, list[str]]) -> None:
    name, glob, captures = drawn
    labels = {f"c{i}": f"${i + 1}" for i in range(len(captures))}
    rules = mapper({"match": glob, "name": "m", "labels": labels, "help": "h"})
    decision = mapped(rules.decide(name, None))
    assert decision.help == "h"
    assert dict(decision.labels) == {f"c{i}": capture for i, capture in enumerate(captures)}
    # one component more or fewer: no match (a star never takes a dot)
    for other in (name + ".x", name.rpartition(".")[0]):
        if other != name and other.count(".") != name.count("."):
            decision = rules.decide(other, None)
            assert not (isinstance(decision, Mapped) and decision.help == "h"), other


@given(globbed_names(), component_text)
def test_a_glob_needs_its_literal_parts(drawn: tuple[str, str, list[str]], other: str) -> None:
    """A glob with one literal component changed matches the name changed alike, and no
    longer the name it was made from."""
    name, glob, _ = drawn
    parts, components = glob.split("."), name.split(".")
    literal = next((i for i, part in enumerate(parts) if "*" not in part), None)
    assume(literal is not None and other != parts[literal])
    assert literal is not None
    parts[literal] = components[literal] = other
    changed_glob, changed_name = ".".join(parts), ".".join(components)
    assume(changed_glob != "")
    rules = mapper({"match": changed_glob, "name": "m", "help": "h"})
    assert mapped(rules.decide(changed_name, None)).help == "h"
    decision = rules.decide(name, None)
    assert not (isinstance(decision, Mapped) and decision.help == "h"), name


@given(st.lists(component_text, min_size=1, max_size=4), st.data())
def test_references_put_in_the_captures(groups: list[str], data: st.DataObject) -> None:
    """``$N``, ``${N}`` and a named group give the capture; ``$$`` a dollar; ``$0`` the
    whole match; anything may follow a reference (``$1_total`` is capture 1, then _total)."""
    pattern = "".join(f"(?P<g{i}>{re.escape(group)})" for i, group in enumerate(groups))
    found = re.fullmatch(pattern, "".join(groups))
    assert found is not None
    pieces = data.draw(
        st.lists(
            st.one_of(
                st.integers(0, len(groups)).map(lambda i: (f"${i}", found.group(i))),
                st.integers(1, len(groups)).map(lambda i: (f"${{{i}}}", found.group(i))),
                st.integers(0, len(groups) - 1).map(lambda i: (f"${{g{i}}}", found.group(i + 1))),
                st.just(("$$", "$")),
                st.text("ab_9", max_size=3).map(lambda text: (text, text)),
            ),
            max_size=6,
        )
    )
    # a literal right after $N that starts with a digit would extend the number: keep them apart
    template, expected = "", ""
    for written, meaning in pieces:
        if re.search(r"\$\d+$", template) and written[:1].isdigit():
            continue
        template += written
        expected += meaning
    assert expand(parse_template(template, len(groups), found.re.groupindex), found) == expected


@pytest.mark.parametrize(
    ("template", "problem"),
    [("$3", "the match has 2 group(s)"), ("${x}", "names no group"), ("a$b", "a $ must be followed"), ("$", "a $")],
)
def test_bad_references_are_refused(template: str, problem: str) -> None:
    with pytest.raises(ValueError, match=re.escape(problem)):
        parse_template(template, 2, {})


def test_globs_come_before_regexes_and_the_first_match_decides() -> None:
    rules = mapper(
        {"match": r"^a\.(.*)$", "match_type": "regex", "name": "regex_$1"},
        {"match": "a.*", "name": "first_glob_$1"},
        {"match": "a.b", "name": "second_glob"},
        {"match": r"z", "match_type": "regex", "name": "anywhere"},
    )
    assert mapped(rules.decide("a.b", None)).family == "first_glob_b"
    assert mapped(rules.decide("a.b.c", None)).family == "regex_b_c"
    assert mapped(rules.decide("xyz.q", None)).family == "anywhere"  # a regex is searched, not anchored
    assert mapped(rules.decide("q.q", None)).family == "q_q"  # no rule: the name, made valid


def test_drop_types_and_defaults() -> None:
    rules = mapper(
        {"match": "debug.*", "action": "drop"},
        {"match": "c.*", "name": "counted", "match_metric_type": "counter"},
        {"match": "c.*", "name": "other"},
        {"match": "t.*", "name": "timed", "observer_type": "histogram", "buckets": (1.0, 2.0), "ttl": 7, "scale": 2},
        {"match": "n.*", "name": "numbat_counter", "metric_type": "counter"},
        ttl=30,
        observer_type="summary",
    )
    assert rules.decide("debug.x", "gauge") == DROPPED
    assert mapped(rules.decide("c.x", "counter")).family == "counted_total"
    assert mapped(rules.decide("c.x", "gauge")).family == "other"
    assert mapped(rules.decide("c.x", None)).family == "other"  # untyped: no match_metric_type rule
    timed = mapped(rules.decide("t.x", "observer"))
    assert (timed.kind, timed.buckets, timed.ttl, timed.scale) == ("histogram", (1.0, 2.0), 7.0, 2.0)
    assert mapped(rules.decide("t.x", "gauge")).kind == "gauge"  # a type that came wins over metric_type
    untyped = mapped(rules.decide("n.x", None))
    assert (untyped.kind, untyped.family) == ("counter", "numbat_counter_total")
    unmapped = mapped(rules.decide("x.y", "observer"))
    assert (unmapped.kind, unmapped.ttl, unmapped.family) == ("summary", 30.0, "x_y")
    assert mapped(rules.decide("x.y_total", "counter")).family == "x_y_total"  # never _total_total


def test_the_decision_cache_stays_within_its_bound() -> None:
    rules = Mapper((MappingRule(match="a.*", name="a_$1"),), MapperDefaults(), cache_size=10)
    for i in range(100):
        assert mapped(rules.decide(f"a.{i}", None)).family == f"a_{i}"
        assert len(rules._cache) <= 10


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"match": "a.(", "match_type": "regex", "name": "x"}, "is not a regular expression"),
        ({"match": "a.*", "name": "x_$2"}, "mappings[0].name: '$2': the match has 1 group(s)"),
        ({"match": "a.*"}, "mappings[0].name: required"),
        ({"match": "a.*", "name": "a.b"}, "a metric name takes letters"),
        ({"match": "a.*", "name": "9a"}, "must not start with a digit"),
        ({"match": "a.*", "name": "x", "labels": {"__x": "1"}}, "is not a label name"),
        ({"match": "a.*", "name": "x", "labels": {"a-b": "1"}}, "is not a label name"),
        ({"match": "a.*", "name": "x", "labels": {"a": 1}}, "labels.a: must be a string"),
        ({"match": "a.*", "name": "x", "labels": {"a": "${q}"}}, "names no group"),
        ({"match": "a.*", "name": "x", "buckets": [1, 1]}, "buckets: must increase"),
        ({"match": "a.*", "name": "x", "quantiles": [0.5, 1.5]}, "between 0 and 1"),
        ({"match": "a.*", "name": "x", "scale": 0}, "scale: must be positive"),
        ({"match": "a.*", "name": "x", "observer_type": "sketch"}, "must be one of 'summary', 'histogram'"),
        ({"match": "a.*", "name": "x", "unknown": 1}, "mappings[0].unknown: unknown key"),
        ({"match": ""}, "match: must be a glob"),
    ],
)
def test_bad_rules_are_named_in_the_configuration_error(rule: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)) as raised:
        prometheus_sink(mappings=[rule])
    assert str(raised.value).startswith("sinks[0].")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"listen": "9102"}, "listen: '9102' is not host:port"),
        ({"path": "metrics"}, "path: 'metrics' must start with /"),
        ({"ttl": -1}, "ttl: must not be negative"),
        ({"max_series": 0}, "max_series: must be positive"),
        ({"buckets": [2, 1]}, "buckets: must increase"),
        ({"buckets": ["inf"]}, "buckets[0]: must be a number"),
        ({"quantiles": []}, "quantiles: must name at least one quantile"),
        ({"summary_age_buckets": 0}, "summary_age_buckets: must be positive"),
        ({"label_fields": ["value"]}, "what an event is made of"),
        ({"max_connections": 0}, "max_connections: must be positive"),
        ({"gzip": "yes"}, "gzip: must be a boolean"),
    ],
)
def test_bad_sink_keys_are_named(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        prometheus_sink(**options)
