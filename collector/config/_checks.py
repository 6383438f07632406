"""Checking configuration tables: a TOML table in, a frozen dataclass out, every key checked.

The dataclass's type hints say what each key may hold, and its ``__post_init__`` the
bounds (:func:`require`). Unknown keys, missing required keys, wrong types and values
outside their bounds are all reported as ``where.key: problem``, so a message names the
key to fix.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Mapping
from typing import Any, Literal, TypeVar, get_args, get_origin

T = TypeVar("T")


class ConfigError(ValueError):
    """A configuration problem, its message naming the key."""


def build(cls: type[T], table: object, where: str, **given: Any) -> T:
    """Make a ``cls`` (a dataclass) from a TOML table, checking everything; ``given``
    fields were built already (a sink's options, by its own class) and are passed as is."""
    if not isinstance(table, Mapping):
        raise ConfigError(f"{where}: must be a table, got {_describe(table)}")
    known = {f.name: f for f in dataclasses.fields(cls) if f.name not in given}  # type: ignore[arg-type]
    for key in table:
        if key not in known:
            raise ConfigError(f"{where}.{key}: unknown key; expected one of {', '.join(sorted(known))}")
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = dict(given)
    for name, spec in known.items():
        if name in table:
            values[name] = check(table[name], hints[name], f"{where}.{name}")
        elif spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING:
            raise ConfigError(f"{where}.{name}: required")
    try:
        return cls(**values)
    except ConfigError:
        raise
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{where}.{exc}") from None


def check(value: object, expected: Any, where: str) -> Any:
    """``value`` if it is of the ``expected`` type (converted where TOML is looser)."""
    origin = get_origin(expected)
    if origin is Literal:
        choices = get_args(expected)
        if value not in choices:
            raise ConfigError(f"{where}: must be one of {', '.join(map(repr, choices))}; got {value!r}")
        return value
    if origin in (types.UnionType, typing.Union):
        return _check_union(value, get_args(expected), where)
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{where}: must be a list, got {_describe(value)}")
        return tuple(check(item, get_args(expected)[0], f"{where}[{i}]") for i, item in enumerate(value))
    if origin is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: must be a table, got {_describe(value)}")
        return dict(value)
    if isinstance(expected, type) and dataclasses.is_dataclass(expected):
        return build(expected, value, where)
    return _check_scalar(value, expected, where)


def _check_union(value: object, options: tuple[Any, ...], where: str) -> Any:
    if value is None and type(None) in options:
        return None
    errors = []
    for option in options:
        if option is not type(None):
            try:
                return check(value, option, where)
            except ConfigError as exc:
                errors.append(str(exc))
    raise ConfigError(errors[0])


_SCALAR_WORDS = {float: "a number", int: "a whole number", str: "a string", bool: "a boolean"}


def _check_scalar(value: object, expected: Any, where: str) -> Any:
    if expected not in _SCALAR_WORDS:
        raise TypeError(f"no check for {expected!r}")  # a bug in a config class, not in the file
    accepted = (int, float) if expected is float else expected
    if isinstance(value, accepted) and (expected is bool or not isinstance(value, bool)):
        if expected is float and not math.isfinite(value):
            raise ConfigError(f"{where}: must be a finite number, got {value!r}")
        return float(value) if expected is float else value
    raise ConfigError(f"{where}: must be {_SCALAR_WORDS[expected]}, got {_describe(value)}")


def require(condition: bool, key: str, problem: str) -> None:
    """For ``__post_init__``: report ``problem`` against ``key``; :func:`build` prefixes
    the table's place."""
    if not condition:
        raise ValueError(f"{key}: {problem}")


def _describe(value: object) -> str:
    return f"{type(value).__name__} {value!r}"


def require_at_most(value: float, limit: float, key: str) -> None:
    """For bounds the system imposes (socket options, loops run that many times)."""
    require(value <= limit, key, f"must be at most {limit:,}")


def check_host_port(text: str, key: str) -> None:
    """``host:port`` (``[::1]:port`` for IPv6) with a port in 0..65535."""
    host, colon, port = text.rpartition(":")
    require(
        bool(colon) and bool(host.strip("[]")) and port.isascii() and port.isdigit() and int(port) <= 65535,
        key,
        f"{text!r} is not host:port",
    )
