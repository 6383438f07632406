"""Compressed log streams read as far as they go: gzip, bzip2, zstd and xz, damaged or not.

Strategy: the compression is told by the stream's magic bytes (:func:`detect`), never by
a file name. A compressed stream is a sequence of members (gzip members, bzip2 streams,
zstd frames, xz streams: concatenating them is legal, and log rotation does it), each
decoded by an incremental decompressor of its own until its end; then either the next
member begins, or what follows is trailing garbage (zero bytes are padding in gzip, as
``gzip -d`` and Python's gzip module take them, and in xz, whose format allows them).

Whatever goes wrong (the input ends inside a member, the data is corrupt, a check fails,
garbage follows) stops the decoding there, after everything decoded before it was handed
out, and is named in words as the damage: a damaged log is counted as far as it can be
read, as ``gzip -d`` salvages what it can, instead of being lost whole.

:class:`Decompressor` is sans-I/O: compressed bytes are fed in, decompressed bytes taken
out a bounded amount at a time, and :meth:`Decompressor.finish` at the end of the input
names the damage. Its I/O shell, a binary stream over a source stream, is
:class:`log_parser._reading.DecompressingReader`. The zstandard package is imported only
when a zstd stream is met.
"""

from __future__ import annotations

import bz2
import lzma
import re
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

#: Compressed bytes read from the source at a time.
INPUT_BYTES = 64 << 10
#: A gzip header longer than this (its name, comment or extra field never ending) is corrupt.
MAX_GZIP_HEADER = 1 << 20


class _Corrupt(Exception):
    """A member's bytes break its format (a bad header, a failed check)."""


class _Member(Protocol):
    """One member's incremental decompressor, as bz2.BZ2Decompressor and
    lzma.LZMADecompressor are: it takes all the data it is given, keeping what it has not
    decoded yet, and gives at most ``max_length`` bytes a call."""

    def decompress(self, data: bytes, max_length: int = -1) -> bytes: ...

    @property
    def eof(self) -> bool: ...

    @property
    def unused_data(self) -> bytes: ...  #: the input after the member's end, once eof

    @property
    def needs_input(self) -> bool: ...


# RFC 1952 header flags
_FHCRC, _FEXTRA, _FNAME, _FCOMMENT, _FRESERVED = 2, 4, 8, 16, 0xE0


def gzip_header_length(data: bytes) -> int | None:
    """The length of the gzip member header (RFC 1952) that ``data`` starts with; None
    when ``data`` ends before the header does. Raises _Corrupt for a header that is not one."""
    if len(data) < 10:
        return None
    if data[:3] != b"\x1f\x8b\x08":
        raise _Corrupt("not a gzip member header (or not deflate)")
    flags = data[3]
    if flags & _FRESERVED:
        raise _Corrupt("gzip header with unknown flags")
    end = 10
    if flags & _FEXTRA:
        if len(data) < end + 2:
            return None
        end += 2 + int.from_bytes(data[end : end + 2], "little")
    for flag in (_FNAME, _FCOMMENT):  # zero-terminated strings
        if flags & flag:
            zero = data.find(b"\0", end)
            if zero < 0:
                return None
            end = zero + 1
    if flags & _FHCRC:
        if len(data) < end + 2:
            return None
        if int.from_bytes(data[end : end + 2], "little") != zlib.crc32(data[:end]) & 0xFFFF:
            raise _Corrupt("gzip header CRC mismatch")
        end += 2
    return end if len(data) >= end else None


class _GzipMember:
    """One gzip member: its header (read here), its deflate data (zlib, raw), and its
    trailer (CRC-32 and size, checked here). Reading the header and trailer ourselves is
    what tells a member cut in its data from one that lost only its trailer."""

    def __init__(self) -> None:
        self._stage = "header"  # then "data", then "trailer"
        self._input = b""  # not yet given to zlib (or, in the trailer, not yet checked)
        self._inflate = zlib.decompressobj(-zlib.MAX_WBITS)
        self._crc = 0
        self._size = 0
        self._starved = True  # zlib's last call ended for want of input, not of room
        self.eof = False
        self.unused_data = b""

    @property
    def needs_input(self) -> bool:
        if self._stage == "data":
            return not self._input and self._starved
        return self._stage == "header" or len(self._input) < 8

    def decompress(self, data: bytes, max_length: int = -1) -> bytes:
        self._input += data
        if self._stage == "header":
            length = gzip_header_length(self._input)
            if length is None:
                if len(self._input) > MAX_GZIP_HEADER:
                    raise _Corrupt("gzip header that never ends")
                return b""
            self._input, self._stage = self._input[length:], "data"
        out = b""
        if self._stage == "data":
            out = self._inflate.decompress(self._input, max(max_length, 0))
            self._crc = zlib.crc32(out, self._crc)
            self._size += len(out)
            self._starved = max_length <= 0 or len(out) < max_length
            if not self._inflate.eof:
                self._input = self._inflate.unconsumed_tail
                return out
            self._input, self._stage = self._inflate.unused_data, "trailer"
            if out:  # handed out before the trailer's check, which may fail
                return out
        if len(self._input) >= 8:
            crc, size = struct.unpack("<II", self._input[:8])
            if crc != self._crc:
                raise _Corrupt("gzip CRC-32 mismatch: the member's data is not what was compressed")
            if size != self._size & 0xFFFFFFFF:
                raise _Corrupt("gzip size mismatch: the member's data is not what was compressed")
            self.eof, self.unused_data, self._input = True, self._input[8:], b""
        return out

    def where_cut(self, read: int) -> str:
        """Where the input ended, when it ended inside this member."""
        if self._stage == "header":
            return f"truncated gzip: the data ends in a member's header ({read} bytes read)"
        if self._stage == "data":
            return f"truncated gzip: the data ends mid-stream ({read} bytes read)"
        if not self._input:
            return "gzip trailer missing: the data is whole, its CRC-32 and size unchecked"
        return f"gzip trailer cut short ({len(self._input)} of its 8 bytes): the data is whole, unchecked"


class ZstdError(Exception):
    """zstandard's ZstdError, raised again under a class known before zstandard is imported."""


class _ZstdMember:
    """One zstd frame, through zstandard's decompressobj. That one takes no output limit,
    so the input goes in slices sized to keep each call's output near ``OUTPUT_TARGET``
    (zstd packs a 128 KiB block of repeated lines in a few bytes)."""

    OUTPUT_TARGET = 1 << 20
    MIN_SLICE, MAX_SLICE = 64, 16 << 10  # small: a corrupt slice loses the output of its call

    def __init__(self) -> None:
        import zstandard  # noqa: PLC0415 - loaded for the first zstd stream, not by every command

        self._frame: Any = zstandard.ZstdDecompressor().decompressobj()
        self._frame_error: type[Exception] = zstandard.ZstdError
        self._input = b""
        self._input_at = 0
        self._output = b""
        self._output_at = 0
        self._slice = self.MIN_SLICE  # until the ratio is known
        self._ended = False  # the frame ended; its output may still be pending
        self.eof = False
        self.unused_data = b""

    @property
    def needs_input(self) -> bool:
        return self._input_at == len(self._input) and self._output_at == len(self._output) and not self.eof

    def decompress(self, data: bytes, max_length: int = -1) -> bytes:
        if data and self._ended:
            self.unused_data += data
        elif data:
            self._input = self._input[self._input_at :] + data
            self._input_at = 0
        while self._output_at == len(self._output) and self._input_at < len(self._input) and not self._ended:
            piece = self._input[self._input_at : self._input_at + self._slice]
            self._input_at += len(piece)
            try:
                self._output, self._output_at = self._frame.decompress(piece), 0
            except self._frame_error as exc:
                raise ZstdError(*exc.args) from exc
            if self._output:  # the next slice, for about OUTPUT_TARGET at this ratio
                self._slice = len(piece) * self.OUTPUT_TARGET // len(self._output)
            else:  # a block not whole yet: no ratio to go by
                self._slice *= 2
            self._slice = min(self.MAX_SLICE, max(self.MIN_SLICE, self._slice))
            if self._frame.eof:
                self._ended = True
                self.unused_data = self._frame.unused_data + self._input[self._input_at :]
                self._input, self._input_at = b"", 0
        end = len(self._output) if max_length < 0 else self._output_at + max_length
        out = self._output[self._output_at : end]
        self._output_at += len(out)
        self.eof = self._ended and self._output_at == len(self._output)
        return out


def _xz() -> _Member:
    return lzma.LZMADecompressor(format=lzma.FORMAT_XZ)


@dataclass(frozen=True)
class Compression:
    name: str  #: as the summaries say it
    magic: re.Pattern[bytes]  #: matches the start of a member
    magic_length: int
    new_member: Callable[[], _Member]  #: a new member's decompressor
    zero_padding: bool = False  #: zero bytes between and after members are padding, not garbage


COMPRESSIONS = (
    Compression("gzip", re.compile(rb"\x1f\x8b"), 2, _GzipMember, zero_padding=True),
    Compression("bzip2", re.compile(rb"BZh[1-9]"), 4, bz2.BZ2Decompressor),
    # a frame, or a skippable frame (magic 0x184D2A50 to 0x184D2A5F)
    Compression("zstd", re.compile(rb"\x28\xb5\x2f\xfd|[\x50-\x5f]\x2a\x4d\x18"), 4, _ZstdMember),
    Compression("xz", re.compile(rb"\xfd7zXZ\x00"), 6, _xz, zero_padding=True),
)
MAGIC_BYTES = max(compression.magic_length for compression in COMPRESSIONS)  #: enough to tell them all
BY_NAME = {compression.name: compression for compression in COMPRESSIONS}

#: What the decompressors raise for data they cannot decode (bz2 raises OSError).
_DECODE_ERRORS = (_Corrupt, zlib.error, OSError, lzma.LZMAError, EOFError, ZstdError)


def detect(head: bytes) -> Compression | None:
    """The compression whose magic bytes ``head`` (a stream's first bytes) starts with."""
    for compression in COMPRESSIONS:
        if compression.magic.match(head):
            return compression
    return None


def _bytes(count: int) -> str:
    return f"{count} byte{'s' if count != 1 else ''}"


class Decompressor:
    """A compressed stream, fed a piece at a time, decompressed as far as it goes.

    ``feed`` compressed bytes, ``read`` decompressed ones (b"" when it needs more input),
    and ``finish`` at the end of the input: it returns the damage, if any. After damage,
    ``read`` gives nothing more and ``feed`` only counts the bytes."""

    def __init__(self, compression: Compression) -> None:
        self.compression = compression
        self.compressed_bytes = 0  #: fed so far
        self.members = 0  #: begun so far
        self.damage: str | None = None  #: set by finish
        self._input = b""  #: fed, not yet given to a member
        self._member: _Member | None = None
        self._gap_start = 0  #: where the bytes after the last member's end start
        self._stopped: tuple[int, str] | None = None  #: (compressed byte, why) where damage stopped the decoding
        self._garbage_at: int | None = None  #: where trailing garbage starts

    def feed(self, data: bytes) -> None:
        self.compressed_bytes += len(data)
        if self._stopped is None and self._garbage_at is None:
            self._input += data

    def read(self, max_length: int) -> bytes:
        """At most ``max_length`` (> 0) decompressed bytes."""
        while self._stopped is None and self._garbage_at is None:
            if self._member is None and not self._begin_member():
                return b""
            assert self._member is not None
            try:
                out = self._member.decompress(self._input, max_length)
            except _DECODE_ERRORS as exc:  # "Error -3 while decompressing data: invalid block type": the reason
                reason = str(exc).rpartition(": ")[2] or type(exc).__name__
                why = str(exc) if isinstance(exc, _Corrupt) else f"corrupt {self.compression.name} data: {reason}"
                self._stopped = (self.compressed_bytes, f"{why} (at compressed byte {self.compressed_bytes} or before)")
                self._member = None
                return b""
            self._input = b""
            if self._member.eof:
                self._input = self._member.unused_data
                self._gap_start = self.compressed_bytes - len(self._input)
                self._member = None
            if out:
                return out
            if self._member is not None and self._member.needs_input:
                return b""
        return b""

    def _begin_member(self) -> bool:
        """Start the next member if the input starts one; else wait for input, or mark
        what follows as garbage."""
        if self.compression.zero_padding:
            self._input = self._input.lstrip(b"\0")
        if len(self._input) < self.compression.magic_length:
            return False
        if not self.compression.magic.match(self._input):
            self._garbage_at = self._gap_start
            self._input = b""
            return False
        self._member = self.compression.new_member()
        self.members += 1
        return True

    def finish(self) -> str | None:
        """The end of the input: what was wrong with the stream, in words, or None."""
        total, name = self.compressed_bytes, self.compression.name
        if self.compression.zero_padding:
            self._input = self._input.lstrip(b"\0")
        if self._stopped is not None:
            at, why = self._stopped
            self.damage = why + (f"; {_bytes(total - at)} after it skipped" if total > at else "")
        elif self._member is not None:
            if isinstance(self._member, _GzipMember):
                self.damage = self._member.where_cut(total)
            else:
                self.damage = f"truncated {name}: the data ends mid-stream ({total} bytes read)"
        elif self._garbage_at is not None or self._input:
            garbage = total - (self._gap_start if self._garbage_at is None else self._garbage_at)
            if self.members:
                self.damage = f"{_bytes(garbage)} of trailing garbage after the {name} data"
            else:
                self.damage = f"{_bytes(garbage)} that are no {name} data"
        return self.damage
