"""The one HTTP POST the outputs share: h11 on trio, over TLS for https.

A connection per request: notifications come minutes apart, and a kept-alive connection
that PagerDuty or Slack closed while idle would fail the first attempt after every quiet
spell. The answer's headers come back (Retry-After) and its body is read only up to a
bound. The URL is split once into what may be logged (the origin: scheme, host, port) and
what may not (path, query and credentials: a Slack webhook's token is its path); errors
name the origin alone. The per-attempt timeout is the caller's (the runner's cancel scope).
"""

from __future__ import annotations

import base64
import ssl
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import h11
import trio

#: Bytes of an answer's body kept (for the log of a refusal); the rest is not read.
ANSWER_BODY_BYTES = 4096
#: A path segment, query value or header word this long may be a token: never logged.
SECRET_CHARS = 6


class HttpFailure(Exception):
    """No answer: the connection failed or broke. The message names the origin only."""


@dataclass(frozen=True)
class Endpoint:
    """A URL parsed for posting. ``origin`` is all of it that may be logged; ``secrets``
    are the parts that must never be (``redact`` removes them from any text): the path,
    the query, each of their segments and values of SECRET_CHARS or more, the credentials."""

    https: bool
    host: str
    port: int
    target: str  #: path and query, sent in the request line
    authority: str  #: the Host header: host[:port], without credentials
    authorization: str | None  #: Basic credentials from the URL's user:password, if any
    origin: str  #: scheme://host[:port]
    secrets: tuple[str, ...]

    @classmethod
    def parse(cls, url: str) -> Endpoint:
        """Raises ValueError (naming no part of the URL but its scheme) when ``url`` is not
        an absolute http(s) URL with a host."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise ValueError(f"must be an http:// or https:// URL, got scheme {parts.scheme!r}")
        try:
            port = parts.port
        except ValueError:
            raise ValueError("has a bad port") from None
        if not parts.hostname:
            raise ValueError("has no host")
        if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url):
            raise ValueError("has spaces or control characters (percent-encode them)")
        https = parts.scheme == "https"
        host = parts.hostname
        shown_host = f"[{host}]" if ":" in host else host
        authority = shown_host if port is None else f"{shown_host}:{port}"
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        authorization = None
        secrets = [piece for piece in (parts.path, parts.query) if piece and piece != "/"]
        # a server may echo a token alone: each path segment and query value long enough to be one
        pieces = [
            *parts.path.split("/"),
            *(value for _, _, value in (p.partition("=") for p in parts.query.split("&"))),
        ]
        secrets += [text for piece in pieces for text in (piece, unquote(piece)) if len(text) >= SECRET_CHARS]
        if parts.username is not None or parts.password is not None:
            user, password = unquote(parts.username or ""), unquote(parts.password or "")
            authorization = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
            secrets += [piece for piece in (parts.username, parts.password, user, password, authorization) if piece]
        return cls(
            https=https,
            host=host,
            port=port or (443 if https else 80),
            target=target,
            authority=authority,
            authorization=authorization,
            origin=f"{parts.scheme}://{authority}",
            secrets=tuple(sorted(set(secrets), key=len, reverse=True)),
        )

    def redact(self, text: str) -> str:
        """``text`` with every secret of this endpoint replaced by ``***``."""
        return redact(text, self.secrets)


def redact(text: str, secrets: tuple[str, ...]) -> str:
    """``text`` with each of ``secrets`` (the longest first) replaced by ``***``."""
    for secret in sorted(secrets, key=len, reverse=True):
        if secret:
            text = text.replace(secret, "***")
    return text


@dataclass(frozen=True)
class Answer:
    status: int
    headers: tuple[tuple[str, str], ...]  #: names in lower case
    body: bytes  #: at most ANSWER_BODY_BYTES of it

    def header(self, name: str) -> str | None:
        name = name.lower()
        return next((value for key, value in self.headers if key == name), None)


def tls_context(ca_file: str = "") -> ssl.SSLContext:
    """The system's trust store, or ``ca_file`` alone when given (a private CA)."""
    return ssl.create_default_context(cafile=ca_file or None)


async def post(
    endpoint: Endpoint, body: bytes, headers: list[tuple[str, str]], tls: ssl.SSLContext | None = None
) -> Answer:
    """POST ``body`` and return the answer, whatever its status; HttpFailure when there is none."""
    request_headers = [("Host", endpoint.authority), ("Content-Length", str(len(body))), ("Connection", "close")]
    if endpoint.authorization is not None:
        request_headers.append(("Authorization", endpoint.authorization))
    request = h11.Request(method="POST", target=endpoint.target, headers=[*request_headers, *headers])
    stream: trio.abc.Stream | None = None
    try:
        if endpoint.https:
            stream = await trio.open_ssl_over_tcp_stream(
                endpoint.host, endpoint.port, ssl_context=tls or tls_context(), https_compatible=True
            )
        else:
            stream = await trio.open_tcp_stream(endpoint.host, endpoint.port)
        return await _exchange(stream, request, body)
    except (OSError, trio.BrokenResourceError, h11.ProtocolError, ssl.SSLError) as exc:
        raise HttpFailure(_describe(endpoint, exc)) from None
    finally:
        if stream is not None:
            await trio.aclose_forcefully(stream)


async def _exchange(stream: trio.abc.Stream, request: h11.Request, body: bytes) -> Answer:
    protocol = h11.Connection(h11.CLIENT)
    await stream.send_all(
        protocol.send(request) + protocol.send(h11.Data(data=body)) + protocol.send(h11.EndOfMessage())
    )
    status, kept = 0, 0
    headers: tuple[tuple[str, str], ...] = ()
    parts: list[bytes] = []
    while True:
        event = protocol.next_event()
        if event is h11.NEED_DATA:
            protocol.receive_data(bytes(await stream.receive_some(65536)))
        elif isinstance(event, h11.Response):
            status = event.status_code
            headers = tuple((bytes(k).decode("latin-1"), bytes(v).decode("latin-1")) for k, v in event.headers)
        elif isinstance(event, h11.Data):
            piece = bytes(event.data)[: ANSWER_BODY_BYTES - kept]
            parts.append(piece)
            kept += len(piece)
            if kept >= ANSWER_BODY_BYTES:  # enough to say why; the rest is not read
                return Answer(status, headers, b"".join(parts))
        elif isinstance(event, h11.EndOfMessage):
            return Answer(status, headers, b"".join(parts))
        elif isinstance(event, h11.ConnectionClosed):
            raise trio.BrokenResourceError("closed before the answer")


def _refused(exc: BaseException) -> bool:
    """Was the connection refused? trio says "all attempts failed" and keeps why beneath."""
    if isinstance(exc, ConnectionRefusedError):
        return True
    if isinstance(exc, BaseExceptionGroup):
        return all(map(_refused, exc.exceptions))
    return exc.__cause__ is not None and _refused(exc.__cause__)


def _tls_error(exc: BaseException | None) -> ssl.SSLError | None:
    """The TLS error beneath ``exc`` (trio reports a failed handshake as a broken stream)."""
    while exc is not None:
        if isinstance(exc, ssl.SSLError):
            return exc
        exc = exc.__cause__ or exc.__context__
    return None


def _describe(endpoint: Endpoint, exc: BaseException) -> str:
    """What went wrong, in an operator's words, naming the origin alone."""
    where = endpoint.origin
    if _refused(exc):
        return f"connection refused by {where}"
    if (tls := _tls_error(exc)) is not None:
        return f"TLS with {where} failed: {tls.reason or type(tls).__name__}"
    if isinstance(exc, OSError) and exc.strerror:
        return f"{where}: {exc.strerror}"
    return f"the connection to {where} broke before the answer"
