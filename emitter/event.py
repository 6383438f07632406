"""numbat's event: its shape, its defaults, and building one from what ``metric()`` was given.
Sans-I/O: no sockets, no threads, no clock (the time of the call is handed in).

An event is a dict: ``name`` (a non-empty string), ``value`` (a number; 1 when the event
does not say, one occurrence), ``time`` (ms since the epoch; the moment it happened when
it does not say), and any other fields. Those rules are written once, here:
:func:`qualify_name` (the ``app.`` prefix) and :func:`complete_event` (the defaults), which
the collector's numbat decoder calls too, so an event means the same on both sides.

``metric()`` itself only records its arguments and the time of the call; the emitter's
own thread turns those records into lines (``_encoder.py``: most of them straight from
cached pieces, the rest through :meth:`EventBuilder.build`, the rule both must follow),
so the service's thread pays for a tuple, not for a dict merge.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

Scalar = str | int | float | bool | None
Event = dict[str, Any]

#: What an event counts when it gives no value: one occurrence.
DEFAULT_VALUE = 1
DEFAULT_NAME_CACHE_SIZE = 10_000


def qualify_name(app: str, name: str) -> str:
    """``name`` in ``app``'s namespace: prefixed with ``app.`` unless it is ``app`` itself
    or already starts with ``app.`` (a name that merely starts with the app's letters,
    ``appetite`` for ``app``, is prefixed)."""
    return name if name == app or name.startswith(app + ".") else f"{app}.{name}"


def complete_event(event: Event, now_ms: int, default_value: Scalar = DEFAULT_VALUE) -> Event:
    """``event`` with numbat's defaults filled in, in place: ``value`` when it has none,
    ``time`` (``now_ms``, ms since the epoch) when it has none or it is null. A ``value``
    of null stays: that is the sender saying NaN, not "one occurrence". Returns ``event``."""
    if event.get("time") is None:
        event["time"] = now_ms
    if "value" not in event:
        event["value"] = default_value
    return event


class EventBuilder:
    """Turns ``metric()`` arguments into events following numbat's schema.

    ``name`` is qualified by :func:`qualify_name`; ``value`` defaults to ``default_value``
    (:data:`DEFAULT_VALUE`; None in statsd mode, which sends no value); ``time`` defaults
    to the moment of the call, in ms since the epoch; ``defaults`` (host, node) fill
    fields the caller did not give. The caller's own dict is never mutated.
    """

    __slots__ = ("_name_cache_size", "_names", "app", "default_value", "defaults")

    def __init__(
        self,
        app: str,
        defaults: Mapping[str, Scalar] | None = None,
        *,
        default_value: Scalar = DEFAULT_VALUE,
        name_cache_size: int = DEFAULT_NAME_CACHE_SIZE,
    ) -> None:
        if not isinstance(app, str) or not app:
            raise ValueError(f"app must be a non-empty string naming the service, got {app!r}")
        self.app = app
        self.defaults: dict[str, Scalar] = dict(defaults or {})
        self.default_value = default_value
        # Qualified names, cached: services use a handful of names millions of times.
        self._names: dict[str, str] = {}
        self._name_cache_size = name_cache_size

    def qualify(self, name: object) -> str | None:
        """The full metric name for ``name``, or None when it is not a usable name."""
        if not isinstance(name, str) or not name:
            return None
        qualified = self._names.get(name)
        if qualified is not None:
            return qualified
        qualified = qualify_name(self.app, name)
        if len(self._names) < self._name_cache_size:
            self._names[name] = qualified
        return qualified

    def build(self, name_or_event: object, value: Scalar, fields: Mapping[str, Any], called_at: float) -> Event | None:
        """One event, or None when it has no usable name.

        ``called_at`` is the moment of the call in seconds since the epoch (``time.time()``).
        """
        if name_or_event.__class__ is str:
            name = self._names.get(name_or_event)  # qualify(), inlined for the common case
            if name is None:
                name = self.qualify(name_or_event)
                if name is None:
                    return None
            # complete_event's rule, written out: this event is new, so value and time go first
            event = {
                "name": name,
                "value": self.default_value if value is None else value,
                "time": int(called_at * 1000),
                **self.defaults,
                **fields,
            }
            event["name"] = name
            return event
        if isinstance(name_or_event, Mapping):
            return self._build_from_mapping(name_or_event, value, fields, called_at)
        return None

    def build_all(
        self, records: Iterable[tuple[Any, Scalar, Mapping[str, Any] | None, float]]
    ) -> tuple[list[Event], int]:
        """Build many ``(name_or_event, value, fields, called_at)`` records (``fields``
        None when there are none); return the events and how many had no usable name.
        :meth:`build` in a loop, with its common case inlined."""
        events: list[Event] = []
        append = events.append
        names, defaults, default_value, build = self._names, self.defaults, self.default_value, self.build
        invalid = 0
        for record in records:
            name, value, fields, called_at = record
            qualified = names.get(name) if name.__class__ is str else None
            if qualified is None:
                try:
                    event = build(name, value, fields or {}, called_at)
                except Exception:  # a Mapping of the caller's whose methods raise, say
                    event = None
                if event is None:
                    invalid += 1
                else:
                    append(event)
                continue
            event = {  # build()'s common case, inlined
                "name": qualified,
                "value": default_value if value is None else value,
                "time": int(called_at * 1000),
                **defaults,
            }
            if fields:
                event.update(fields)
                event["name"] = qualified
            append(event)
        return events, invalid

    def _build_from_mapping(
        self, given: Mapping[str, Any], value: Scalar, fields: Mapping[str, Any], called_at: float
    ) -> Event | None:
        name = self.qualify(given.get("name"))
        if name is None:
            return None
        event = {"name": name, **self.defaults, **given, **fields}
        event["name"] = name
        if value is not None:
            event["value"] = value
        return complete_event(event, int(called_at * 1000), self.default_value)
