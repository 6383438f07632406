"""The salvaging decompressor: for logs compressed with gzip (one member or several), bzip2,
zstd or xz, then cut short, followed by garbage or corrupted, it gives what the reference
incremental decompressor gives for the same bytes, and names the damage exactly when there
is some. The references are the standard library's decompressors (zlib in its own gzip
mode, bz2, lzma) and zstandard's, each given a member's bytes at once."""

from __future__ import annotations

import bz2
import gzip
import io
import itertools
import lzma
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import pytest
import zstandard
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from log_parser._reading import DecompressingReader
from log_parser.core._decompress import BY_NAME, Decompressor, detect

COMPRESS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": lambda data: gzip.compress(data, compresslevel=6, mtime=0),
    "bzip2": lambda data: bz2.compress(data, compresslevel=1),
    "zstd": zstandard.ZstdCompressor(write_checksum=True).compress,  # the zstd command writes the checksum too
    "xz": lzma.compress,
}


def reference(name: str, member: bytes) -> bytes:
    """What a fresh incremental decompressor gives for (a prefix of) one member."""
    if name == "gzip":
        return zlib.decompressobj(wbits=31).decompress(member)
    if name == "zstd":
        return zstandard.ZstdDecompressor().decompressobj().decompress(member)
    decompressor = bz2.BZ2Decompressor() if name == "bzip2" else lzma.LZMADecompressor(format=lzma.FORMAT_XZ)
    out = decompressor.decompress(member)
    # bzip2 may hold output back until asked again, even once it says it needs input
    # (CPython's needs_input turns true when the input is used up, output pending or not)
    for _ in range(1000):
        more = b"" if decompressor.eof else decompressor.decompress(b"")
        if not more:
            break
        out += more
    return out


#: What starts a member, written out here (not the module's own patterns).
STARTS = {
    "gzip": re.compile(rb"\x1f\x8b"),
    "bzip2": re.compile(rb"BZh[1-9]"),
    "zstd": re.compile(rb"\x28\xb5\x2f\xfd|[\x50-\x5f]\x2a\x4d\x18"),
    "xz": re.compile(rb"\xfd7zXZ\x00"),
}
ZERO_PADDED = {"gzip", "xz"}  # where zero bytes after the data are padding, not garbage


def decompress(name: str, data: bytes, feed: int = 1 << 16, room: int = 1 << 20) -> tuple[bytes, str | None]:
    """``data`` through the Decompressor, fed ``feed`` bytes at a time, read ``room`` at a time."""
    decompressor = Decompressor(BY_NAME[name])
    out = []
    for start in range(0, len(data), feed):
        decompressor.feed(data[start : start + feed])
        while piece := decompressor.read(room):
            assert len(piece) <= room
            out.append(piece)
    return b"".join(out), decompressor.finish()


log_lines = st.lists(
    st.text(st.characters(blacklist_characters="\n", blacklist_categories=("Cs",)), max_size=120), max_size=40
)


@dataclass
class Log:
    """Log lines compressed as one member or several, one member per part."""

    name: str
    lines: list[str]
    repeat: int
    cuts: list[int]

    def __post_init__(self) -> None:
        self.original = ("".join(line + "\n" for line in self.lines) * self.repeat).encode()
        bounds = [0, *sorted(min(cut, len(self.original)) for cut in self.cuts), len(self.original)]
        self.parts = [self.original[start:end] for start, end in itertools.pairwise(bounds)]
        self.members = [COMPRESS[self.name](part) for part in self.parts]

    def __repr__(self) -> str:  # the lines and how they were cut, not the bytes
        return f"Log({self.name!r}, {self.lines!r}, repeat={self.repeat}, cuts={self.cuts})"


#: Lines repeated to a few hundred kB now and then, so that streams run across bzip2's,
#: zstd's and deflate's blocks, not only within one.
logs = st.builds(
    Log,
    st.sampled_from(sorted(COMPRESS)),
    log_lines,
    st.sampled_from([1, 1, 3, 2000]),
    st.lists(st.integers(0, 400_000), max_size=2),
)
rooms = st.one_of(st.integers(1, 16), st.integers(1 << 10, 1 << 17))


def small_reads_of_a_small_log(log: Log, room: int) -> bool:
    """Reads of a few bytes are drawn for small logs only: hundreds of kB a byte at a
    time take seconds an example, and minutes while Hypothesis shrinks."""
    return room >= 1 << 10 or len(log.original) <= 1 << 16


@settings(max_examples=300, deadline=None)
@given(logs, st.integers(1, 5000), rooms)
def test_an_intact_stream_gives_the_original_and_no_damage(log, feed, room) -> None:
    assume(small_reads_of_a_small_log(log, room))
    assert decompress(log.name, b"".join(log.members), feed, room) == (log.original, None)


def test_a_bzip2_stream_cut_after_its_last_block_gives_all_of_it() -> None:
    """Cut in its trailer, a bzip2 stream's blocks are all decoded: CPython's decompressor
    says it needs input while output is still pending, which the reference once took for
    the end (Hypothesis found this log and cut)."""
    log = Log("bzip2", ["", "", "", "012@P/\x1f`p\x80\x82\x83Á𞤖𰩥"], 2000, [0])
    whole = b"".join(log.members)
    out, damage = decompress("bzip2", whole[:159], 5000, 1 << 17)
    assert out == log.original == log.parts[0] + reference("bzip2", log.members[1][:145])
    assert damage is not None


@settings(max_examples=400, deadline=None)
@given(logs, st.data(), st.integers(1, 5000), rooms)
def test_a_stream_cut_anywhere_gives_what_the_reference_gives_and_is_damaged(log, data, feed, room) -> None:
    assume(small_reads_of_a_small_log(log, room))
    name, original, parts, members = log.name, log.original, log.parts, log.members
    whole = b"".join(members)
    cut = data.draw(st.integers(1, len(whole) - 1), label="cut")
    expected, start = b"", 0
    for part, member in zip(parts, members, strict=True):
        if cut >= start + len(member):
            expected += part
        elif cut > start:
            expected += reference(name, member[: cut - start])
        start += len(member)
    out, damage = decompress(name, whole[:cut], feed, room)
    assert out == expected
    assert original.startswith(out)
    ends = {sum(map(len, members[:count])) for count in range(1, len(members))}
    assert (damage is not None) == (cut not in ends)  # cut between two members, the stream looks whole


@settings(max_examples=300, deadline=None)
@given(logs, st.binary(min_size=1, max_size=64), st.integers(1, 5000))
def test_garbage_after_the_data_keeps_the_data_and_is_damage(log, garbage, feed) -> None:
    name, original, members = log.name, log.original, log.members
    significant = garbage.lstrip(b"\0") if name in ZERO_PADDED else garbage
    assume(not STARTS[name].match(significant))  # another member's start is no garbage
    out, damage = decompress(name, b"".join(members) + garbage, feed)
    assert out == original
    if significant:
        assert damage is not None
        assert damage.endswith(f"trailing garbage after the {name} data")
    else:
        assert damage is None  # zero padding


@settings(max_examples=300, deadline=None)
@given(logs, st.data())
def test_a_corrupted_byte_is_never_silent(log, data) -> None:
    """A changed byte anywhere is named as damage, or changes nothing (a gzip header's
    time stamp); it never raises."""
    name, original, members = log.name, log.original, log.members
    whole = bytearray(b"".join(members))
    at = data.draw(st.integers(0, len(whole) - 1), label="at")
    whole[at] ^= data.draw(st.integers(1, 255), label="xor")
    out, damage = decompress(name, bytes(whole), data.draw(st.integers(1, 5000), label="feed"))
    assert damage is not None or out == original


def test_damage_in_words() -> None:
    data = b"".join(b"203.0.113.9 - - line %d\n" % n for n in range(20_000))
    member = gzip.compress(data)
    assert decompress("gzip", member[:-8]) == (
        data,
        "gzip trailer missing: the data is whole, its CRC-32 and size unchecked",
    )
    assert (
        decompress("gzip", member[:-3])[1] == "gzip trailer cut short (5 of its 8 bytes): the data is whole, unchecked"
    )
    assert decompress("gzip", member[:100])[1] == "truncated gzip: the data ends mid-stream (100 bytes read)"
    assert decompress("gzip", member[:5])[1] == "truncated gzip: the data ends in a member's header (5 bytes read)"
    assert decompress("gzip", member + b"junk!")[1] == "5 bytes of trailing garbage after the gzip data"
    assert decompress("gzip", member + member[:1])[1] == "1 byte of trailing garbage after the gzip data"
    assert (
        decompress("bzip2", bz2.compress(data)[:-1])[1]
        == f"truncated bzip2: the data ends mid-stream ({len(bz2.compress(data)) - 1} bytes read)"
    )
    wrong_crc = bytearray(member)
    wrong_crc[-8] ^= 1
    out, damage = decompress("gzip", bytes(wrong_crc))
    assert out == data  # handed out before the check could fail
    assert damage == (
        f"gzip CRC-32 mismatch: the member's data is not what was compressed (at compressed byte {len(member)} or before)"
    )
    # a second member whose deflate data starts with a block of the reserved type 3
    corrupt = member + member[:10] + b"\x07" + bytes(5000)
    out, damage = decompress("gzip", corrupt, feed=1000)
    assert out == data
    at = (len(member) // 1000 + 1) * 1000  # the error is in the last piece fed
    assert (
        damage
        == f"corrupt gzip data: invalid block type (at compressed byte {at} or before); {len(corrupt) - at} bytes after it skipped"
    )


def test_concatenated_members_of_every_kind() -> None:
    for name, compress in COMPRESS.items():
        parts = [b"first member\n", b"", b"third\n" * 10_000]
        assert decompress(name, b"".join(map(compress, parts)), feed=777) == (b"".join(parts), None), name


def test_zstd_skippable_frames_and_xz_stream_padding() -> None:
    frame = zstandard.ZstdCompressor().compress(b"a line\n")
    skippable = b"\x5a\x2a\x4d\x18" + (3).to_bytes(4, "little") + b"abc"
    assert decompress("zstd", skippable + frame + skippable) == (b"a line\n", None)
    stream = lzma.compress(b"a line\n")
    assert decompress("xz", stream + b"\0" * 4 + stream + b"\0" * 8) == (b"a line\n" * 2, None)


@pytest.mark.parametrize(
    ("head", "name"),
    [
        (gzip.compress(b"x"), "gzip"),
        (bz2.compress(b"x"), "bzip2"),
        (zstandard.ZstdCompressor().compress(b"x"), "zstd"),
        (b"\x50\x2a\x4d\x18\0\0\0\0", "zstd"),
        (lzma.compress(b"x"), "xz"),
        (b"BZh0 is no bzip2 block size", None),
        (b"203.0.113.9 - - [01/May/2024:12:00:07 +0000]", None),
        (b"", None),
    ],
)
def test_told_by_magic_bytes(head: bytes, name: str | None) -> None:
    found = detect(head)
    assert (found.name if found else None) == name


def test_the_reader_reads_its_source_to_the_end_past_damage() -> None:
    """So that a caller can tell an object damaged in itself (all its bytes read) from a
    read that fell short."""
    data = b"".join(b"line %d\n" % n for n in range(200_000))
    member = gzip.compress(data)
    stream = member + member[:10] + b"\x07" + bytes(300_000)  # a second member, corrupt from its first block
    source = io.BytesIO(stream)
    reader = DecompressingReader(source, BY_NAME["gzip"])
    assert reader.damage is None
    assert io.BufferedReader(reader).read() == data
    assert source.tell() == len(stream)
    assert reader.damage is not None
    assert reader.damage.startswith("corrupt gzip data: invalid block type")
    assert reader.compression == "gzip"
