"""URI parsing for every scheme (ported from numbat-emitter's 01-parse-uri, plus ours)."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from emitter import InvalidURI, parse_uri


@pytest.mark.parametrize(
    ("uri", "transport", "address"),
    [
        ("tcp://localhost:5000", "tcp", ("localhost", 5000)),
        ("udp://localhost:5000", "udp", ("localhost", 5000)),
        ("udp://[::1]:5000", "udp", ("::1", 5000)),
        ("statsd://localhost:8126", "statsd", ("localhost", 8126)),
        ("statsd://localhost", "statsd", ("localhost", 8125)),
        ("socket:/tmp/foo.sock", "unix", "/tmp/foo.sock"),
        ("sock:/tmp/foo.sock", "unix", "/tmp/foo.sock"),
        ("unix:///run/numbat.sock", "unix", "/run/numbat.sock"),
        ("unix://relative/numbat.sock", "unix", "relative/numbat.sock"),
    ],
)
def test_socket_uris(uri: str, transport: str, address: object) -> None:
    destination = parse_uri(uri)
    assert destination.transport == transport
    assert destination.address == address


def test_http_uri_keeps_path_query_and_scheme() -> None:
    destination = parse_uri("https://metrics.example:8443/ingest?db=x")
    assert destination.transport == "http"
    assert (destination.host, destination.port, destination.path) == ("metrics.example", 8443, "/ingest?db=x")
    assert destination.secure
    plain = parse_uri("http://127.0.0.1:3334")
    assert (plain.path, plain.secure) == ("/", False)


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("ws://localhost:5000", "unsupported destination uri"),
        ("ftp://example.com", "unsupported destination uri"),
        ("localhost:5000", "unsupported destination uri"),
        ("tcp://localhost", "names no port"),
        ("udp://:5000", "names no host"),
        ("tcp://localhost:99999", "bad port"),
        ("unix://", "names no socket path"),
        ("", "non-empty string"),
    ],
)
def test_bad_uris_say_what_is_wrong(uri: str, message: str) -> None:
    with pytest.raises(InvalidURI, match=message):
        parse_uri(uri)


@given(st.text())
def test_any_text_parses_or_raises_invalid_uri(text: str) -> None:
    with contextlib.suppress(InvalidURI):
        parse_uri(text)
