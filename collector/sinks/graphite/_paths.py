"""Graphite paths for numbat events: the mapping, and the characters carbon can take. Sans-I/O.

numbat's mapping: the event's name is the path (after an optional prefix); the other
fields become Graphite 1.1 tags (``path;host=web1;status=ok``), or are folded into the
path by a template (``{host}.{name}``: each ``{field}`` is that field's value as one
segment of the path, ``{name}`` the event's name), the fields a template uses being no
tags. Tags are in carbon's order (its ``;key=value`` texts sorted), which carbon gives a
series before it stores it, so the path written is the path stored.

What carbon and graphite-web can take, whatever arrives: in a path, each dot-separated
segment keeps letters, digits, ``_`` and ``-`` (others become ``_``) and empty segments
go (``a..b.`` is ``a.b``); tag keys and values keep letters, digits and ``_-.`` (others
become ``_``), a tag with an empty key or value is left out (carbon refuses it), and so
are fields that are no scalar. A path longer than ``max_path_bytes`` is no path (carbon's
line receiver drops the connection past 16 KiB). The rules are ASCII on purpose: they
make file names on every filesystem, and a glob in a graphite-web query matches what
was written.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from operator import itemgetter
from typing import Any, NamedTuple

from ...aggregate import GraphiteNaming, graphite_paths

_SEGMENT_UNSAFE = re.compile(r"[^A-Za-z0-9_\-]")
_TAG_UNSAFE = re.compile(r"[^A-Za-z0-9_\-.]")
_TOKEN = re.compile(r"\{([^{}]*)\}")
#: Event keys that are never tags: the path, the value and the time.
RESERVED = frozenset({"name", "value", "time"})
_TAGGABLE = frozenset({str, int, float, bool})


class Skip(NamedTuple):
    """An event that makes no path, and why (the reason its count is kept under)."""

    reason: str


def clean_path(text: str) -> str:
    """``text`` as a path: each segment cleaned, empty segments left out."""
    return ".".join(_SEGMENT_UNSAFE.sub("_", segment) for segment in text.split(".") if segment)


def clean_segment(text: str) -> str:
    """``text`` as one segment of a path (its dots too become ``_``)."""
    return _SEGMENT_UNSAFE.sub("_", text)


def clean_tag(text: str) -> str:
    """A tag key or value as carbon takes it."""
    return _TAG_UNSAFE.sub("_", text)


def scalar_text(value: object) -> str | None:
    """A field's value as text (tags, template segments); None for what is no scalar."""
    kind = value.__class__
    if kind is str:
        return value  # type: ignore[return-value]
    if value is True:
        return "true"
    if value is False:
        return "false"
    if kind is int:
        return str(value)
    if kind is float:
        text = repr(value)
        return text[:-2] if text.endswith(".0") else text
    return None


@dataclass(frozen=True)
class Template:
    """A path template: literal path text and ``{field}`` tokens, ``{name}`` among them."""

    parts: tuple[tuple[bool, str], ...]  #: (is a field, its key or the literal text)

    @classmethod
    def parse(cls, text: str) -> Template:
        """Raises ValueError naming what is wrong."""
        parts: list[tuple[bool, str]] = []
        at = 0
        for match in _TOKEN.finditer(text):
            parts.append((False, text[at : match.start()]))
            key = match.group(1)
            if not key:
                raise ValueError(f"{text!r}: an empty {{}}")
            parts.append((True, key))
            at = match.end()
        parts.append((False, text[at:]))
        literal = "".join(part for is_field, part in parts if not is_field)
        if "{" in literal or "}" in literal:
            raise ValueError(f"{text!r}: a brace outside a {{field}}")
        if clean_path(literal.replace(".", "")) != literal.replace(".", ""):
            raise ValueError(f"{text!r}: literal text may hold only letters, digits, '_', '-' and dots")
        if (True, "name") not in parts:
            raise ValueError(f"{text!r} must hold {{name}}")
        return cls(tuple((is_field, part) for is_field, part in parts if is_field or part))

    @property
    def fields(self) -> frozenset[str]:
        """The event keys the template folds into the path (``name`` aside)."""
        return frozenset(part for is_field, part in self.parts if is_field and part != "name")

    @property
    def plain(self) -> bool:
        """Whether the path is the name alone."""
        return self.parts == ((True, "name"),)

    def render(self, event: Mapping[str, Any]) -> str:
        """The path before the prefix: the name's segments kept, a field one segment; a
        field the event lacks (or that is no scalar) makes no segment."""
        pieces = []
        for is_field, part in self.parts:
            if not is_field:
                pieces.append(part)
            elif part == "name":
                pieces.append(str(event["name"]))
            else:
                text = scalar_text(event.get(part))
                pieces.append(clean_segment(text) if text else "")
        return clean_path("".join(pieces))


class PathMaker:
    """Paths for raw events, remembered: a series already seen costs a lookup.

    ``tags``: fields become Graphite 1.1 tags (else only the template uses fields);
    ``tag_fields``, when given, are the only fields made tags. ``admit`` is asked once
    per new path (the sink's bound on paths) and says why not, or None.
    """

    def __init__(
        self,
        *,
        prefix: str = "",
        template: Template | None = None,
        tags: bool = True,
        tag_fields: Collection[str] = (),
        max_path_bytes: int = 1024,
        admit: Callable[[str], str | None] | None = None,
        cache_limit: int = 100_000,
    ) -> None:
        self.prefix = clean_path(prefix)
        self.template = template or Template.parse("{name}")
        self.tags = tags
        self.tag_fields = frozenset(tag_fields)
        self.max_path_bytes = max_path_bytes
        self._admit = admit or (lambda path: None)
        self._not_tags = RESERVED | self.template.fields
        self._cache_limit = cache_limit
        self._cached = 0
        # the keys of events (in order) -> the getter of the values that make the path, and its paths
        self._shapes: dict[tuple[str, ...], _Shape] = {}

    def path_of(self, event: Mapping[str, Any]) -> str | Skip:
        """The admitted path of ``event``, or why it has none."""
        shape = self._shapes.get(tuple(event))
        if shape is None:
            shape = self._learn(event)
        try:
            known = shape.paths.get(shape.get(event))
        except TypeError:  # a list or an object among the values: never remembered
            known = None
        if known is not None:
            return known
        path = self.make(event)
        if isinstance(path, str):
            refused = self._admit(path)
            if refused is not None:
                return Skip(refused)
            self._remember(shape, event, path)
        return path

    def make(self, event: Mapping[str, Any]) -> str | Skip:
        """The path of ``event`` (not remembered, not admitted), or why it has none."""
        base = self.template.render(event)
        if not base:
            return Skip("no path")
        path = f"{self.prefix}.{base}" if self.prefix else base
        if self.tags:
            path += self._tag_text(event)
        if len(path.encode()) > self.max_path_bytes:
            return Skip("path too long")
        return path

    def _tag_text(self, event: Mapping[str, Any]) -> str:
        only, not_tags = self.tag_fields, self._not_tags
        tags: dict[str, str] = {}
        for key, value in event.items():
            if key in not_tags or (only and key not in only) or value.__class__ not in _TAGGABLE:
                continue
            text = scalar_text(value)
            clean_key = clean_tag(key)
            if text and clean_key and clean_key not in tags:  # alike keys: the first wins
                tags[clean_key] = clean_tag(text)
        return "".join(sorted(f";{key}={value}" for key, value in tags.items()))

    def shape_of(self, event: Mapping[str, Any]) -> _Shape | None:
        """How events of ``event``'s keys are looked up, once an event of them was seen."""
        return self._shapes.get(tuple(event))

    def _learn(self, event: Mapping[str, Any]) -> _Shape:
        keys = tuple(event)
        identity = [key for key in keys if key not in ("value", "time")]
        shape = _Shape(identity, len(keys), "value" in event and "time" in event)
        if len(self._shapes) < _SHAPE_LIMIT:
            self._shapes[keys] = shape
        return shape

    def _remember(self, shape: _Shape, event: Mapping[str, Any], path: str) -> None:
        if self._cached >= self._cache_limit:
            return
        identity = shape.get(event)
        if _cacheable(identity):
            shape.paths[identity] = path
            self._cached += 1


_SHAPE_LIMIT = 10_000  #: key sets remembered


class _Shape:
    """Events with one set of keys (``size`` of them): ``get`` takes the values that make
    their path (the name and the fields, as a tuple), ``paths`` maps those to the path
    admitted; ``full``, when the events have a value and a time, takes (value, time,
    *those values) in one call."""

    __slots__ = ("full", "get", "paths", "size")

    def __init__(self, identity: list[str], size: int, valued: bool) -> None:
        getter = itemgetter(*identity) if identity else (lambda event: ())
        self.get: Callable[[Mapping[str, Any]], Any] = (
            getter if len(identity) != 1 else (lambda event: (getter(event),))
        )
        self.full: Callable[[Mapping[str, Any]], tuple[Any, ...]] | None = (
            itemgetter("value", "time", *identity) if valued else None
        )
        self.size = size
        self.paths: dict[Any, str] = {}


def _cacheable(identity: tuple[Any, ...]) -> bool:
    """True == 1 == 1.0 as dict keys, yet a tag True is written "true" and 1 is "1": a
    series whose non-text values include 0 or 1 is not remembered, so none is confused;
    nor one whose values cannot be hashed."""
    try:
        hash(identity)
    except TypeError:
        return False
    return not any(value in (0, 1) for value in identity if value.__class__ is not str)


_NOT_IN_A_LINE = re.compile(r"[\x00-\x20\x7f]")


def summary_paths(
    summary: Mapping[str, Any], naming: GraphiteNaming, prefix: str = "", max_path_bytes: int = 1024
) -> list[tuple[str, Any]] | Skip:
    """An aggregation's summary as statsd's Graphite backend names it (``graphite_paths``),
    after the sink's prefix. Blanks and control characters, which would break a line
    (statsd's own cleaning may be off), become ``_``; a summary with a path longer than
    ``max_path_bytes`` has none."""
    lead = f"{prefix}." if prefix else ""
    points = []
    for path, value in graphite_paths(dict(summary), naming):
        full = lead + _NOT_IN_A_LINE.sub("_", path)
        if len(full.encode()) > max_path_bytes:
            return Skip("path too long")
        points.append((full, value))
    return points
