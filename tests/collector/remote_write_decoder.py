"""Test-only: a WriteRequest decoder written apart from the sink's encoder, from the
protobuf wire format's rules alone (varints, the four wire types, unknown fields
skipped, repeated fields in order, proto3 defaults for absent fields), so that the two
check each other. Also the receiving end of a stand-in remote-write server."""

from __future__ import annotations

import http.server
import struct
import threading
import time
from dataclasses import dataclass, field

import cramjam

Series = tuple[list[tuple[str, str]], list[tuple[float, int]]]


class DecodeError(ValueError):
    pass


def _varint(data: bytes, at: int) -> tuple[int, int]:
    result, shift = 0, 0
    for index in range(at, min(at + 10, len(data))):
        byte = data[index]
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, index + 1
        shift += 7
    raise DecodeError("bad varint")


def _messages(data: bytes) -> list[tuple[int, int, object]]:
    """(field number, wire type, value) of every field: an int for varints and fixed
    widths, bytes for length-delimited ones."""
    out: list[tuple[int, int, object]] = []
    at = 0
    while at < len(data):
        key, at = _varint(data, at)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise DecodeError("field number 0")
        if wire == 0:
            value, at = _varint(data, at)
            out.append((number, wire, value))
        elif wire == 1:
            if at + 8 > len(data):
                raise DecodeError("truncated fixed64")
            out.append((number, wire, data[at : at + 8]))
            at += 8
        elif wire == 2:
            size, at = _varint(data, at)
            if at + size > len(data):
                raise DecodeError("truncated bytes")
            out.append((number, wire, data[at : at + size]))
            at += size
        elif wire == 5:
            if at + 4 > len(data):
                raise DecodeError("truncated fixed32")
            out.append((number, wire, data[at : at + 4]))
            at += 4
        else:
            raise DecodeError(f"wire type {wire}")
    return out


def _int64(unsigned: int) -> int:
    unsigned &= (1 << 64) - 1
    return unsigned - (1 << 64) if unsigned >= 1 << 63 else unsigned


def decode_write_request(data: bytes) -> list[Series]:
    """Each TimeSeries as (labels as (name, value) in order, samples as (value, ms))."""
    series: list[Series] = []
    for number, wire, payload in _messages(data):
        if number != 1 or wire != 2:
            continue  # unknown fields are skipped, as protobuf readers do
        labels: list[tuple[str, str]] = []
        samples: list[tuple[float, int]] = []
        for inner, inner_wire, inner_payload in _messages(payload):  # type: ignore[arg-type]
            if inner == 1 and inner_wire == 2:
                name = value = ""
                for f, w, p in _messages(inner_payload):  # type: ignore[arg-type]
                    if f == 1 and w == 2:
                        name = p.decode("utf-8")  # type: ignore[union-attr]
                    elif f == 2 and w == 2:
                        value = p.decode("utf-8")  # type: ignore[union-attr]
                labels.append((name, value))
            elif inner == 2 and inner_wire == 2:
                sample_value, stamp = 0.0, 0
                for f, w, p in _messages(inner_payload):  # type: ignore[arg-type]
                    if f == 1 and w == 1:
                        sample_value = struct.unpack("<d", p)[0]  # type: ignore[arg-type]
                    elif f == 2 and w == 0:
                        stamp = _int64(p)  # type: ignore[arg-type]
                samples.append((sample_value, stamp))
        series.append((labels, samples))
    return series


def decode_body(body: bytes) -> list[Series]:
    """A remote-write request body: snappy's block format, then a WriteRequest."""
    return decode_write_request(bytes(cramjam.snappy.decompress_raw(body)))


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    series: list[Series]
    at: float  #: time.monotonic() when it arrived


@dataclass
class StandIn:
    """A remote-write server for what a real Prometheus cannot be made to answer (429,
    Retry-After, 404): each POST is decoded and kept, and answered with the next of
    ``answers`` (status, headers), then 204 when they run out."""

    answers: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    refused: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        stand_in = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                headers = {name.lower(): value for name, value in self.headers.items()}
                try:
                    series = decode_body(body)
                    status, answer_headers = stand_in.answers.pop(0) if stand_in.answers else (204, {})
                except (DecodeError, UnicodeDecodeError, cramjam.DecompressionError):
                    series, status, answer_headers = [], 400, {}  # as Prometheus answers what it cannot read
                request = Received(self.path, headers, series, time.monotonic())
                (stand_in.received if status < 300 else stand_in.refused).append(request)
                self.send_response(status)
                for name, value in answer_headers.items():
                    self.send_header(name, value)
                message = b"" if status < 300 else b"no thanks\n"
                self.send_header("Content-Length", str(len(message)))
                self.end_headers()
                self.wfile.write(message)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/receive"
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(5)
