"""The tarball rule (:mod:`._tarball`) on bytes, compiled by numba. Sans-I/O.

Strategy: :class:`~log_parser.core._bulk.PathMemory` judges each distinct path a counter
meets once; a registry log holds tens of thousands of them (every version of every
package, scoped ones spelled three ways), and judging them one by one in Python took
about as long as the compiled scan of the lines. :func:`judge_paths` judges a run of
them in one compiled loop and hands back, for each, where its package and version lie
in one buffer of decoded bytes, which Python only slices.

It is :func:`~log_parser.core._tarball.parse_tarball_path` step for step, on bytes: the
query string or fragment cut, an absolute URL's ``scheme://authority`` dropped, ``%XX``
decoded (as ``urllib.parse.unquote`` does: left to right, a ``%`` not followed by two hex
digits kept), then the judgement on the decoded bytes: the ``.tgz`` ending, the path's
parts, npm's name rule, the file named after the package, semver 2.0.0's grammar, the
214-character bound. Every byte of a tarball path is checked against an ASCII class, so a
decoded byte of 0x80 or more (UTF-8, valid or not) makes it no tarball, as the non-ASCII
text it decodes to does for the Python rule, and the package and version are ASCII. The
property tests hold the two to the same answers. Loaded with the scanner, whose module
chooses numba's cache folder first.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._scanner import COMPILED_CACHE
from ._tarball import MAX_NAME

#: numba's cache folder, chosen by the scanner's module before numba is first imported.
CACHE_FOLDER = COMPILED_CACHE.path

from numba import njit, types  # noqa: E402 - only once the cache folder is chosen

from jit.loading import quick_cache_loads  # noqa: E402
from jit.tables import compiled  # noqa: E402

#: The columns of :func:`judge_paths`' rows: package start and end, version start and end
#: in the decoded bytes; NOT_A_TARBALL in the first for a path that is none.
PACKAGE_START, PACKAGE_END, VERSION_START, VERSION_END = 0, 1, 2, 3
NOT_A_TARBALL = -1

_SLASH, _DASH, _DOT, _PLUS, _AT, _PERCENT, _COLON, _QUESTION, _NUMBER_SIGN = b"/-.+@%:?#"
_T, _G, _Z = b"tgz"
_NAME_FIRST = np.zeros(128, dtype=np.bool_)  #: npm's name rule: [A-Za-z0-9~-] first
_NAME_REST = np.zeros(128, dtype=np.bool_)  #: then [A-Za-z0-9._~!'()*-]
_IDENTIFIER = np.zeros(128, dtype=np.bool_)  #: semver's identifier characters, [0-9A-Za-z-]
_SCHEME = np.zeros(128, dtype=np.bool_)  #: [A-Za-z0-9+.-] after a URL scheme's first letter
for _table, _characters in (
    (_NAME_FIRST, b"~-"),
    (_NAME_REST, b"._~!'()*-"),
    (_IDENTIFIER, b"-"),
    (_SCHEME, b"+.-"),
):
    for _character in b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz" + _characters:
        _table[_character] = True
_HEX = np.full(128, -1, dtype=np.int64)  #: a hex digit's value, -1 for other characters
for _digit, _character in enumerate(b"0123456789abcdef"):
    _HEX[_character] = _digit
    _HEX[bytes([_character]).upper()[0]] = _digit

Int64Array = np.ndarray[Any, np.dtype[np.int64]]
Bytes = np.ndarray[Any, np.dtype[np.uint8]]


@compiled
def _in(table: Any, character: int) -> bool:
    return character < 128 and table[character]


@compiled
def _is_letter(character: int) -> bool:
    return 65 <= character <= 90 or 97 <= character <= 122


@compiled
def _path_start(data: Any, start: int, end: int) -> int:
    """Where the path begins: after ``scheme://authority`` when the bytes start with one
    (``[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*``), else at ``start``."""
    if start >= end or not _is_letter(data[start]):
        return start
    at = start + 1
    while at < end and _in(_SCHEME, data[at]):
        at += 1
    if at + 3 > end or data[at] != _COLON or data[at + 1] != _SLASH or data[at + 2] != _SLASH:
        return start
    at += 3
    while at < end and data[at] != _SLASH and data[at] != _QUESTION and data[at] != _NUMBER_SIGN:
        at += 1
    return at


@compiled
def _decode(data: Any, start: int, end: int, out: Any, at: int) -> int:
    """``data[start:end]`` percent-decoded into ``out`` from ``at``, as ``unquote`` reads it
    (a ``%`` not followed by two hex digits kept as it is); where the decoded bytes end."""
    index = start
    while index < end:
        character = data[index]
        if character == _PERCENT and index + 2 < end:
            high, low = data[index + 1], data[index + 2]
            if high < 128 and low < 128 and _HEX[high] >= 0 and _HEX[low] >= 0:
                out[at] = _HEX[high] * 16 + _HEX[low]
                at += 1
                index += 3
                continue
        out[at] = character
        at += 1
        index += 1
    return at


@compiled
def _is_name(data: Any, start: int, end: int) -> bool:
    """npm's name rule, capitals allowed: ``[A-Za-z0-9~-][A-Za-z0-9._~!'()*-]*``."""
    if start >= end or not _in(_NAME_FIRST, data[start]):
        return False
    for index in range(start + 1, end):  # noqa: SIM110 - numba compiles no generator for all()
        if not _in(_NAME_REST, data[index]):
            return False
    return True


@compiled
def _after_number(data: Any, at: int, end: int) -> int:
    """After ``0|[1-9][0-9]*`` at ``at``, or -1."""
    if at >= end or not 48 <= data[at] <= 57:
        return -1
    if data[at] == 48:
        return at + 1
    while at < end and 48 <= data[at] <= 57:
        at += 1
    return at


@compiled
def _after_identifiers(data: Any, at: int, end: int, numbers_without_zeros: bool) -> int:
    """After dot-separated identifiers of ``[0-9A-Za-z-]+`` at ``at`` (all-digit ones
    without a leading zero when ``numbers_without_zeros``: a prerelease's), or -1."""
    while True:
        first = at
        digits_only = True
        while at < end and _in(_IDENTIFIER, data[at]):
            digits_only = digits_only and 48 <= data[at] <= 57
            at += 1
        if at == first:
            return -1
        if numbers_without_zeros and digits_only and data[first] == 48 and at - first > 1:
            return -1
        if at < end and data[at] == _DOT:
            at += 1
        else:
            return at


@compiled
def _is_semver(data: Any, start: int, end: int) -> bool:
    """semver 2.0.0's grammar exactly (the ``SEMVER`` expression's full match)."""
    at = _after_number(data, start, end)
    for _ in range(2):
        if at < 0 or at >= end or data[at] != _DOT:
            return False
        at = _after_number(data, at + 1, end)
    if at >= 0 and at < end and data[at] == _DASH:
        at = _after_identifiers(data, at + 1, end, True)
    if at >= 0 and at < end and data[at] == _PLUS:
        at = _after_identifiers(data, at + 1, end, False)
    return at == end


@compiled
def _parts(out: Any, start: int, end: int) -> tuple[int, int, int, int]:
    """Where the parts of ``/name/-/file`` or ``/@scope/name/-/file`` begin and end:
    (scope start or -1, name start, name end, file start), or -1 for the name's start."""
    nothing = (-1, -1, -1, -1)
    if out[start] != _SLASH:
        return nothing
    found = first = second = third = 0  # the slashes after the first: two, or three for a scope
    for index in range(start + 1, end):
        if out[index] == _SLASH:
            found += 1
            if found == 1:
                first = index
            elif found == 2:
                second = index
            elif found == 3:
                third = index
            else:
                return nothing
    if found == 2:  # /name/-/file
        parts, dash = (-1, start + 1, first, second + 1), first + 1
    elif found == 3 and out[start + 1] == _AT:  # /@scope/name/-/file
        parts, dash = (start + 2, first + 1, second, third + 1), second + 1
    else:
        return nothing
    if out[dash] != _DASH or parts[3] != dash + 2:
        return nothing
    return parts


@compiled
def _judge(out: Any, start: int, end: int) -> tuple[int, int, int, int]:
    """The decoded path ``out[start:end]`` judged: (package start, package end, version
    start, version end), or NOT_A_TARBALL first."""
    nothing = (NOT_A_TARBALL, NOT_A_TARBALL, NOT_A_TARBALL, NOT_A_TARBALL)
    if end - start < 5 or out[end - 4] != _DOT or out[end - 3] != _T or out[end - 2] != _G or out[end - 1] != _Z:
        return nothing
    scope_start, name_start, name_end, file_start = _parts(out, start, end)
    if name_start < 0:
        return nothing
    if not _is_name(out, name_start, name_end):
        return nothing
    if scope_start >= 0 and not _is_name(out, scope_start, name_start - 1):
        return nothing
    name_length = name_end - name_start
    version_start = file_start + name_length + 1
    if version_start > end - 4 or out[version_start - 1] != _DASH:
        return nothing
    for index in range(name_length):
        if out[file_start + index] != out[name_start + index]:
            return nothing
    if not _is_semver(out, version_start, end - 4):
        return nothing
    if name_end - (start + 1) > MAX_NAME:
        return nothing
    return start + 1, name_end, version_start, end - 4


def _judge_paths(data: Any, spans: Any, out: Any, parts: Any) -> int:
    """Each path ``data[start:end]`` of ``spans`` ([start, end] rows) judged: its row of
    ``parts`` says where its package and version lie in ``out``, which must hold as many
    bytes as the paths (decoding never lengthens one). How many bytes of ``out`` are used."""
    used = 0
    for row in range(spans.shape[0]):
        start, end = spans[row, 0], spans[row, 1]
        cut = start
        while cut < end and data[cut] != _QUESTION and data[cut] != _NUMBER_SIGN:
            cut += 1
        path = _path_start(data, start, cut)
        decoded_end = _decode(data, path, cut, out, used)
        judged = _judge(out, used, decoded_end)
        parts[row, PACKAGE_START], parts[row, PACKAGE_END] = judged[0], judged[1]
        parts[row, VERSION_START], parts[row, VERSION_END] = judged[2], judged[3]
        if judged[0] != NOT_A_TARBALL:
            used = decoded_end  # a tarball's bytes are kept; the others' are written over
    return used


with quick_cache_loads():
    _judge_all = njit(
        (
            types.Array(types.uint8, 1, "C", readonly=True),
            types.Array(types.int64, 2, "C"),
            types.Array(types.uint8, 1, "C"),
            types.Array(types.int64, 2, "C"),
        ),
        cache=True,
        nogil=True,
    )(_judge_paths)


def judge_paths(data: Bytes, spans: Int64Array) -> tuple[str, list[list[int]]]:
    """The tarball rule's answer for each path ``data[start:end]`` of ``spans``: the
    decoded text, and per path [package start, package end, version start, version end]
    in it (NOT_A_TARBALL first for a path that is no package's tarball)."""
    out = np.empty(max(int((spans[:, 1] - spans[:, 0]).sum()) if len(spans) else 0, 1), dtype=np.uint8)
    parts = np.empty((spans.shape[0], 4), dtype=np.int64)
    used = _judge_all(data, np.ascontiguousarray(spans), out, parts)
    return out[:used].tobytes().decode("ascii"), parts.tolist()


def parse_tarball_bytes(path: bytes) -> tuple[str, str] | None:
    """:func:`~log_parser.core._tarball.parse_tarball_path` of one path, compiled: what the
    property tests compare."""
    text, [(package_start, package_end, version_start, version_end)] = judge_paths(
        np.frombuffer(path, dtype=np.uint8), np.array([[0, len(path)]], dtype=np.int64)
    )
    if package_start == NOT_A_TARBALL:
        return None
    return text[package_start:package_end], text[version_start:version_end]
