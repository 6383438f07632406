"""One place chooses how a format is counted (core.counter_for): whatever it chooses, a
buffer counts as the format's parser counts its lines one by one, the reference; combined
logs go to the compiled scanner only past COMPILE_AFTER bytes or once it is loaded."""

from __future__ import annotations

import subprocess
import sys

from hypothesis import given, settings
from hypothesis import strategies as st

from log_parser.core import PARSERS, Tally, counter_for, new_parser
from log_parser.core import _counter as counter_module
from log_parser.core._counter import COMPILE_AFTER
from log_parser.core._counting import tally_lines

from .test_live import log_line

#: A line of each format, and lines none reads.
SAMPLES = {
    "combined": [
        log_line(1, "/lodash/-/lodash-4.17.21.tgz"),
        log_line(2, "/lodash/-/lodash-4.17.21.tgz", status=304),
        log_line(3, "/@babel/core/-/core-7.24.0.tgz"),
    ],
    "fastly": [
        "<134>2024-05-01T12:00:07Z cache-ams21 registry[1]: " + log_line(4, "/lodash/-/lodash-4.17.21.tgz"),
        '<134>1 2024-05-01T12:00:07Z SJC app - - - {"time": 1714564807, "method": "GET", '
        '"url": "/lodash/-/lodash-4.17.21.tgz", "status": 200, "bytes": 10}',
    ],
    "cloudfront": [
        "#Version: 1.0",
        "2024-05-01\t12:00:07\tAMS1\t318961\t203.0.113.9\tGET\td.cloudfront.net\t/lodash/-/lodash-4.17.21.tgz\t200"
        "\t-\tnpm\t-\t-\tHit\tid\thost\thttps\t100\t0.001",
    ],
    "json": ['{"time": "2024-05-01T12:00:07Z", "method": "GET", "url": "/lodash/-/lodash-4.17.21.tgz", "status": 200}'],
}
JUNK = ["", "no format reads this", "\r", '{"time": "yesterday"}', "#a comment", "é\x00\tünïcode", "1 2 3"]


def figures(tally: Tally) -> tuple[object, ...]:
    return (
        tally.downloads,
        tally.requests,
        tally.by_status_class,
        tally.bytes_served,
        tally.cache_hits,
        tally.cache_known,
        tally.rejected,
    )


def reference(format_name: str, lines: list[str]) -> Tally:
    tally = Tally()
    tally_lines(lines, new_parser(format_name), tally)
    return tally


lines_of_a_format = st.sampled_from(sorted(PARSERS)).flatmap(
    lambda name: st.tuples(
        st.just(name),
        st.lists(
            st.sampled_from(SAMPLES[name] + JUNK)
            | st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\n")),
            max_size=30,
        ),
    )
)


@given(lines_of_a_format, st.booleans())
@settings(max_examples=200)
def test_a_buffer_counts_as_its_parser_counts_the_lines(drawn, final_newline) -> None:
    format_name, lines = drawn
    tally = Tally()
    buffer = "\n".join(lines) + ("\n" if final_newline and lines else "")
    counter_for(format_name).count(buffer.encode(), tally)
    assert figures(tally) == figures(reference(format_name, lines))


@given(lines_of_a_format)
@settings(max_examples=100)
def test_messages_count_as_one_line_each_even_holding_a_newline(drawn) -> None:
    """Octet-counted syslog messages may hold an LF: each is one line to the parser."""
    format_name, lines = drawn
    messages = [line + "\n" + line if index % 3 == 1 else line for index, line in enumerate(lines)]
    tally = Tally()
    counter_for(format_name).count_messages([message.encode() for message in messages], tally)
    assert figures(tally) == figures(reference(format_name, messages))


def test_combined_logs_go_to_the_scanner_past_compile_after_only(monkeypatch) -> None:
    loader = counter_module._CompiledScanner()  # this process's scanner, not yet loaded
    monkeypatch.setattr(counter_module, "_compiled", loader)
    counter = counter_for("combined")
    lines = SAMPLES["combined"] + JUNK
    small = ("\n".join(lines) + "\n").encode()
    tally = Tally()
    counter.count(small, tally)
    assert loader.bulk_counter is None  # parsed: too little to be worth the scanner
    assert loader.parsed_bytes == len(small)
    copies = COMPILE_AFTER // len(small) + 1
    counter.count(small * copies, tally)
    assert loader.bulk_counter is not None  # this buffer reached COMPILE_AFTER: the scanner counted it
    counter.count(small, tally)
    assert loader.parsed_bytes == len(small)  # nothing parsed apart since
    assert figures(tally) == figures(reference("combined", lines * (copies + 2)))


def test_counting_a_little_loads_no_numba_and_warming_loads_it_once() -> None:
    """In a fresh interpreter: counting a small combined buffer, or warming for a format
    the scanner does not read, imports no numba; warming for combined or auto does."""
    program = f"""
import sys
from log_parser.core import Tally, counter_for, warm_for
tally = Tally()
counter_for("combined").count({(chr(10).join(SAMPLES["combined"]) + chr(10)).encode()!r}, tally)
warm_for("json")
print(tally.total_downloads, "numba" in sys.modules, "log_parser.core._scanner" in sys.modules)
warm_for("auto")
print("numba" in sys.modules, "log_parser.core._scanner" in sys.modules)
"""
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=120, check=True)
    assert result.stdout.split("\n") == ["2 False False", "True True", ""]


def test_loading_the_scanner_freezes_what_it_imported_and_leaves_the_collector_as_it_was() -> None:
    """In a fresh interpreter: the objects the load made are out of later collections
    (frozen), the collector runs again after the load (or stays off, when it was), and a
    cycle made after the load is still collected."""
    program = """
import gc, weakref
from log_parser.core import warm_for
gc.disable()
warm_for("combined")
print(gc.isenabled(), gc.get_freeze_count() > 10_000)
gc.unfreeze()
gc.enable()
from log_parser.core import _counter
_counter._CompiledScanner().load()
class Node: pass
node = Node(); node.self = node; alive = weakref.ref(node); del node
gc.collect()
print(gc.isenabled(), gc.get_freeze_count() > 10_000, alive() is None)
"""
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=120, check=True)
    assert result.stdout.split("\n") == ["False True", "True True True", ""]
