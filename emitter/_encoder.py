"""What ``metric()`` recorded, straight to the wire's newline-delimited JSON. Sans-I/O.

The sender thread runs this for every event, holding the GIL the service needs, so it is
the emitter's cost to the service beside ``metric()`` itself. The general way, a dict per
event (:class:`EventBuilder`) encoded by orjson one at a time, cost about 0.5 µs an event.
Most events are the same few series over and over: a name the service uses a million
times, a number, the time, the same host and fields. So each line is written from
pieces made once and reused:

- the name's piece, ``{"name":"app.latency","value":``, made once per name;
- the value, formatted by Python when it is an ``int`` orjson can carry or a finite
  ``float`` (the shortest text that reads back as the same float, as orjson writes);
- the time's piece, ``,"time":1700000000123``, made once per millisecond;
- the tail, the defaults and the fields, made once per distinct fields (keyed by their
  orjson encoding, which tells ``1`` from ``1.0`` and ``True``) and then looked up; a
  single field whose value is a ``str`` or an ``int`` is looked up by its key and value
  themselves, which skips encoding it to look.

Consecutive records of a burst mostly come from one call site: the same name object and
the same field objects. So the loop keeps the last name and the last one field it found,
and a record holding the very same objects (``is``, not ``==``: exact, and no caller
code runs) reuses their pieces without a lookup, as it reuses the last millisecond's.

Anything else (an event given as a dict, a value of another type, a field that would
replace a default or the name, a name or fields orjson cannot encode, a full cache) goes
the general way, line for line in order, with the same counting of invalid and
unencodable events. Both ways give lines that decode to the same events
(tests/emitter/test_encoder.py holds that for any record).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import orjson

from ._wire import encode_batch, encode_json, json_default
from .event import Event, EventBuilder, Scalar

#: What metric() records: (name or event, value, fields, given, time of the call), where
#: ``fields`` is None (none), the one field's key (its value is ``given``), or a dict of
#: two or more (``Emitter.metric`` says why not always the dict); ``given`` is otherwise None.
Record = tuple[Any, Scalar, str | Mapping[str, Any] | None, Any, float]

#: Stands for "no last name or field yet" in the encoder's loop: no record gives it.
_NOTHING = object()

#: The range of integers orjson encodes; outside it an event is unencodable.
_SMALLEST_INT = -(2**63)
_LARGEST_INT = 2**64 - 1


class LineEncoder:
    """Records in, one buffer of newline-terminated JSON lines out.

    Its caches are bounded by ``cache_size`` entries each (names; distinct fields);
    past that, new entries go the general way and nothing is evicted.
    """

    __slots__ = (
        "_builder",
        "_cache_size",
        "_default_value_text",
        "_names",
        "_pairs",
        "_pairs_size",
        "_reserved",
        "_tail_alone",
        "_tails",
        "_tails_prefix",
    )

    def __init__(self, builder: EventBuilder, cache_size: int) -> None:
        self._builder = builder
        self._cache_size = cache_size
        # The name's piece of the line, by the name metric() was given.
        self._names: dict[str, str] = {}
        # The line's end after the time, by the orjson encoding of the fields.
        self._tails: dict[bytes, str] = {}
        # The same for one field whose value is a str or an int, by its key, then that
        # value; and how many such tails it holds. Looked up only with a value of exactly
        # those classes: a str equals only a str of the same text, an int only an int of
        # the same digits (1.0 and True, equal to 1 in Python, go the other way), so a hit
        # is exact without encoding the field to look, and runs no code of the caller's.
        self._pairs: dict[str, dict[str | int, str]] = {}
        self._pairs_size = 0
        # `,"host":"vm"` (or nothing), then the fields or the closing brace; None (every
        # record the general way) when the defaults cannot be encoded.
        defaults_text = _encoded(builder.defaults)
        if defaults_text is not None:
            defaults_text = "," + defaults_text[1:-1] if builder.defaults else ""
        self._tail_alone = None if defaults_text is None else defaults_text + "}\n"
        self._tails_prefix = None if defaults_text is None else defaults_text + ","
        self._default_value_text = _encoded(builder.default_value)
        # Fields that would replace something the pieces already hold.
        self._reserved = frozenset({"name", "value", "time", *builder.defaults})

    def encode(self, records: Iterable[Record]) -> tuple[bytes, int, int, int]:  # noqa: PLR0912, PLR0915 - one loop, inlined
        """``(data, lines, invalid, unencodable)``: the lines of the records that make
        events, in order, and how many had no usable name or could not be encoded."""
        out: list[str] = []
        append = out.append
        names = self._names
        tails = self._tails
        pairs = self._pairs
        tail_alone = self._tail_alone
        default_value_text = self._default_value_text
        dumps = orjson.dumps
        invalid = unencodable = 0
        # The last name, and its piece.
        last_name: object = _NOTHING
        last_piece: str | None = None
        # The last one field found by key and value, the same objects (a str or an int:
        # the same text) most records of a burst from one call site give.
        last_key: object = _NOTHING
        last_given: object = _NOTHING
        last_tail = ""
        # The current millisecond, as [low, high) in ms, and its piece of the line.
        low = high = 0.0
        time_text = ""
        for record in records:
            name, value, fields, given, called_at = record
            if name is last_name:
                piece = last_piece
            else:
                piece = names.get(name) if name.__class__ is str else None
                if piece is None:
                    piece = self._name_piece(name)
                if piece is not None:
                    last_name, last_piece = name, piece
            if piece is not None:
                kind = value.__class__
                if value is None:
                    value_text: object = default_value_text
                elif kind is int:
                    value_text = value if _SMALLEST_INT <= value <= _LARGEST_INT else None  # type: ignore[operator]
                elif kind is float:
                    value_text = value if value - value == 0.0 else None  # type: ignore[operator]  # not NaN, ±inf
                else:
                    value_text = None
                tail: str | None
                if fields is None:
                    tail = tail_alone
                elif fields.__class__ is str:  # one field: `fields` is its key (maybe ""), `given` its value
                    if fields is last_key and given is last_given:
                        tail = last_tail
                    else:
                        tail = None
                        kind = given.__class__
                        if kind is str or kind is int:
                            by_value = pairs.get(fields)
                            if by_value is not None:
                                tail = by_value.get(given)
                                if tail is not None:
                                    last_key, last_given, last_tail = fields, given, tail
                        if tail is None:
                            tail = self._pair_tail(fields, given)
                elif not fields:
                    tail = tail_alone
                else:
                    try:
                        tail = tails.get(dumps(fields, default=json_default))
                    except Exception:  # a field orjson cannot encode: the general way counts it
                        tail = None
                    if tail is None:
                        tail = self._fields_tail(fields)  # type: ignore[arg-type]  # a Mapping
                if value_text is not None and tail is not None:
                    milliseconds = called_at * 1000
                    if not low <= milliseconds < high:
                        whole = int(milliseconds)
                        # Kept only for positive times, where int() is the floor.
                        low, high = (float(whole), float(whole + 1)) if whole > 0 else (0.0, 0.0)
                        time_text = f',"time":{whole}'
                    append(f"{piece}{value_text}{time_text}{tail}")
                    continue
            line, failure = self._general(record)
            if line is not None:
                append(line)
            elif failure == "invalid":
                invalid += 1
            else:
                unencodable += 1
        return "".join(out).encode(), len(out), invalid, unencodable

    def _name_piece(self, name: object) -> str | None:
        """The cached piece for a new name; None (the general way) for anything else."""
        if name.__class__ is not str or len(self._names) >= self._cache_size:
            return None
        qualified = self._builder.qualify(name)
        if qualified is None:
            return None
        try:
            text = orjson.dumps(qualified).decode()
        except orjson.JSONEncodeError:  # a lone surrogate: the general way counts it
            return None
        piece = self._names[name] = f'{{"name":{text},"value":'
        return piece

    def _fields_tail(self, fields: Mapping[str, Any], *, cache: bool = True) -> str | None:
        """The tail for fields seen for the first time; None (the general way) when they
        replace a piece, cannot be encoded, or the cache is full. ``cache=False``: the
        caller caches it its own way."""
        prefix = self._tails_prefix
        if prefix is None or (cache and len(self._tails) >= self._cache_size) or not self._reserved.isdisjoint(fields):
            return None
        try:
            key = orjson.dumps(fields, default=json_default)
        except Exception:  # orjson.JSONEncodeError, or a field's own conversion raising
            return None
        tail = prefix + key[1:].decode() + "\n"
        if cache:
            self._tails[key] = tail
        return tail

    def _pair_tail(self, key: str, given: Any) -> str | None:
        """The tail for one field not found by its key and value: cached by them when the
        value is a str or an int, else looked up as fields are."""
        fields = {key: given}
        kind = given.__class__
        if (kind is not str and kind is not int) or self._pairs_size >= self._cache_size:
            try:
                tail = self._tails.get(orjson.dumps(fields, default=json_default))
            except Exception:  # a field orjson cannot encode: the general way counts it
                return None
            return tail if tail is not None else self._fields_tail(fields)
        tail = self._fields_tail(fields, cache=False)
        if tail is not None:
            self._pairs.setdefault(key, {})[given] = tail
            self._pairs_size += 1
        return tail

    def _general(self, record: Record) -> tuple[str | None, str]:
        """One record the general way: its line, or None and why (``invalid``: no usable
        name; ``unencodable``: a field JSON cannot carry)."""
        name, value, fields, given, called_at = record
        try:
            event = self._builder.build(name, value, as_mapping(fields, given), called_at)
        except Exception:  # a Mapping of the caller's whose methods raise, say
            event = None
        if event is None:
            return None, "invalid"
        try:
            return encode_json(event).decode(), ""
        except Exception:  # orjson.JSONEncodeError (a TypeError), or a field's conversion raising
            return None, "unencodable"


def as_mapping(fields: str | Mapping[str, Any] | None, given: Any) -> Mapping[str, Any]:
    """A record's fields as the mapping metric() was given."""
    if fields is None:
        return {}
    if fields.__class__ is str:
        return {fields: given}
    return fields  # type: ignore[return-value]


def _encoded(value: object) -> str | None:
    """``value`` as JSON text, or None when orjson cannot encode it."""
    try:
        return orjson.dumps(value, default=json_default).decode()
    except Exception:  # orjson.JSONEncodeError, or a conversion raising
        return None


class EventEncoder:
    """The general way for every record: an event dict each (:meth:`EventBuilder.build_all`),
    encoded one at a time by ``encode_event``: the statsd destination's encoder, whose
    lines the JSON pieces do not fit."""

    __slots__ = ("_builder", "_encode_event")

    def __init__(self, builder: EventBuilder, encode_event: Callable[[Event], bytes]) -> None:
        self._builder = builder
        self._encode_event = encode_event

    def encode(self, records: Iterable[Record]) -> tuple[bytes, int, int, int]:
        """As :meth:`LineEncoder.encode`."""
        events, invalid = self._builder.build_all(
            (name, value, as_mapping(fields, given), called_at) for name, value, fields, given, called_at in records
        )
        data, lines, unencodable = encode_batch(events, self._encode_event)
        return bytes(data), lines, invalid, unencodable
