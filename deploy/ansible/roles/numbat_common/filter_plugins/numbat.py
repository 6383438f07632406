"""Filters the numbat roles render with: a TOML document, and a command line for systemd.

Strategy: numbatd's configuration is a mapping in the inventory (YAML), written as TOML by
``numbat_toml``: top-level keys first, then each mapping as a ``[table]`` and each list of
mappings as ``[[tables]]``, anything deeper inline; a key whose value is null is left out
(TOML has no null: the program's default applies). ``numbat_systemd_args`` quotes each
argument of an ``ExecStart=`` line so that systemd hands the program exactly the list the
inventory gave (and the program's ``--check`` was run with): ``%`` and ``$`` doubled,
anything beyond plain characters in double quotes with C escapes. Both refuse what they
cannot write (an integer beyond 64 bits, a lone surrogate) with an error that names it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
#: Arguments systemd reads as they are: no quotes, spaces, escapes, specifiers or variables.
PLAIN_ARGUMENT = re.compile(r"[A-Za-z0-9_@+=:,./-]+")
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
#: Characters TOML and systemd both write as a short escape.
SHORT_ESCAPES = {"\\": "\\\\", '"': '\\"', "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


class TomlError(ValueError):
    pass


def numbat_toml(document: Mapping[str, Any]) -> str:
    """``document`` as a TOML document, ending with a newline."""
    if not isinstance(document, Mapping):
        raise TomlError(f"a TOML document is a mapping, not {type(document).__name__}")
    items = [(key, value) for key, value in document.items() if value is not None]
    lines = [f"{_key(key)} = {_value(value, key)}" for key, value in items if _kind(value) == "value"]
    for key, value in items:
        if _kind(value) == "table":
            lines += ["", f"[{_key(key)}]"]
            lines += [f"{_key(k)} = {_value(v, f'{key}.{k}')}" for k, v in value.items() if v is not None]
    for key, value in items:
        if _kind(value) == "tables":
            for number, table in enumerate(value):
                lines += ["", f"[[{_key(key)}]]"]
                path = f"{key}[{number}]"
                lines += [f"{_key(k)} = {_value(v, f'{path}.{k}')}" for k, v in table.items() if v is not None]
    return "\n".join(lines).lstrip("\n") + "\n"


def _kind(value: Any) -> str:
    if isinstance(value, Mapping):
        return "table"
    if isinstance(value, list) and value and all(isinstance(item, Mapping) for item in value):
        return "tables"
    return "value"


def _key(key: Any) -> str:
    if not isinstance(key, str):
        raise TomlError(f"a TOML key is a string, not {key!r}")
    return key if BARE_KEY.fullmatch(key) else _string(key, key)


def _value(value: Any, where: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        if not INT64_MIN <= value <= INT64_MAX:  # not `in range(...)`: linear for an int subclass
            raise TomlError(f"{where}: {value} does not fit TOML's 64-bit integers")
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return _string(value, where)
    if isinstance(value, Mapping):
        pairs = [f"{_key(k)} = {_value(v, f'{where}.{k}')}" for k, v in value.items() if v is not None]
        return "{ " + ", ".join(pairs) + " }" if pairs else "{}"
    if isinstance(value, Iterable):
        return "[" + ", ".join(_value(item, f"{where}[]") for item in value if item is not None) + "]"
    raise TomlError(f"{where}: TOML cannot hold {type(value).__name__} {value!r}")


def _string(text: str, where: str) -> str:
    return '"' + "".join(_escaped(char, where) for char in text) + '"'


def _escaped(char: str, where: str) -> str:
    if char in SHORT_ESCAPES:
        return SHORT_ESCAPES[char]
    code = ord(char)
    if code < 0x20 or code == 0x7F:
        return f"\\u{code:04x}"
    if 0xD800 <= code <= 0xDFFF:
        raise TomlError(f"{where}: a lone surrogate (U+{code:04X}) cannot be written as UTF-8")
    return char


def numbat_systemd_args(argv: Iterable[Any], break_before_options: bool = False, variables: bool = True) -> str:
    """The arguments as words of a systemd command line. With ``break_before_options``,
    each argument that starts with ``--`` begins a continuation line, for the reader.
    ``variables=False`` for a setting where systemd expands no ``$`` (``Environment=``)."""
    words = []
    for number, argument in enumerate(argv):
        word = _systemd_word(str(argument), variables)
        if break_before_options and number and word.startswith("--"):
            word = "\\\n    " + word
        words.append(word)
    return " ".join(words)


def _systemd_word(argument: str, variables: bool = True) -> str:
    if argument == ";":
        return "\\;"  # a lone semicolon would separate two commands
    if PLAIN_ARGUMENT.fullmatch(argument):
        return argument
    escaped = []
    for char in argument:
        code = ord(char)
        if char in SHORT_ESCAPES:
            escaped.append(SHORT_ESCAPES[char])
        elif code < 0x20 or code == 0x7F:
            escaped.append(f"\\x{code:02x}")
        elif 0xD800 <= code <= 0xDFFF:
            raise ValueError(f"a command-line argument holds a lone surrogate (U+{code:04X}): {argument!r}")
        elif char == "%" or (char == "$" and variables):
            escaped.append(char * 2)  # a specifier, a variable: doubled, they stand for themselves
        else:
            escaped.append(char)
    return '"' + "".join(escaped) + '"'


class FilterModule:
    """Ansible's entry point for filter plugins."""

    def filters(self) -> dict[str, Any]:
        return {"numbat_toml": numbat_toml, "numbat_systemd_args": numbat_systemd_args}
