"""What every output is, and what the HTTP ones share.

An output sends one notification per :meth:`Output.send` and says how that went by
returning (sent), raising :class:`Retryable` (try again later: no answer, 5xx, 429) or
:class:`Rejected` (trying again cannot help: a 4xx, a command that failed). Everything
else, the queue, the retries, the per-attempt timeout and the counting, is the runner's
(_runner.py), so an output is its encoding and its one request. The encoders are pure
functions of the notification (tested with hypothesis); the classes add the I/O.
"""

from __future__ import annotations

import datetime
import math
import re
import ssl
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import ClassVar, Generic, TypeVar

import orjson

from ...config import require
from .._model import Action, Notification
from ._http import Answer, Endpoint, HttpFailure, post, redact, tls_context

#: What the paging and chat outputs take; "remediate" goes to the remediation output alone.
NOTIFY_ACTIONS: frozenset[Action] = frozenset({"trigger", "update", "resolve", "renotify"})


class Retryable(Exception):
    """The notification may go through later; ``retry_after`` (seconds) is the other
    end's wish (Retry-After), when it said one."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class Rejected(Exception):
    """Trying again cannot help. ``reason`` labels the failure in the self-metrics;
    ``logged`` says the output has logged it already (with more than a message)."""

    def __init__(self, message: str, reason: str = "rejected", *, logged: bool = False) -> None:
        super().__init__(message)
        self.reason = reason
        self.logged = logged


@dataclass(frozen=True)
class OutputOptions:
    """The keys every output has: its queue and its retries."""

    queue_size: int = 1000  #: notifications waiting; past it new ones are dropped (counted)
    timeout: float = 10.0  #: seconds one attempt may take
    max_attempts: int = 6  #: attempts per notification before it is given up (counted)
    retry_base: float = 1.0  #: first retry delay, seconds, doubling and jittered
    retry_cap: float = 60.0  #: longest delay between attempts, a Retry-After included

    def __post_init__(self) -> None:
        require(0 < self.queue_size <= 1_000_000, "queue_size", "must be in 1..1000000")
        require(0 < self.max_attempts <= 100, "max_attempts", "must be in 1..100")
        for key in ("timeout", "retry_base"):
            require(getattr(self, key) > 0, key, "must be positive")
        require(self.retry_cap >= self.retry_base, "retry_cap", "must be at least retry_base")


@dataclass(frozen=True)
class HttpOptions(OutputOptions):
    """An output that POSTs JSON to ``url``. The URL's path, query and credentials, and the
    values of ``headers``, are secrets: logs and errors show the scheme and host alone."""

    url: str = ""
    headers: dict[str, str] = field(default_factory=dict)  #: sent with every request (Authorization...)
    ca_file: str = ""  #: a CA bundle to trust instead of the system's (https to a private CA)

    def __post_init__(self) -> None:
        super().__post_init__()
        require(bool(self.url), "url", "required")
        try:
            Endpoint.parse(self.url)
        except ValueError as exc:
            require(False, "url", str(exc))
        for name, value in self.headers.items():
            require(bool(_HEADER_NAME.match(name)), f"headers.{name}", "is not a header name")
            require(isinstance(value, str), f"headers.{name}", "must be a string")
            require(not any(c in value for c in "\r\n\0"), f"headers.{name}", "must hold no line break nor NUL")


_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # RFC 9110's token

OptionsT = TypeVar("OptionsT", bound=OutputOptions)


class Output(ABC, Generic[OptionsT]):
    """One configured destination of notifications."""

    kind: ClassVar[str]  #: what the configuration calls it in "type"
    Options: type[OptionsT]
    actions: ClassVar[frozenset[Action]] = NOTIFY_ACTIONS
    #: False where a second attempt could do harm (a command run twice)
    retries: ClassVar[bool] = True

    def __init__(self, name: str, options: OptionsT) -> None:
        self.name = name
        self.options = options

    @property
    def where(self) -> str:
        """Where it sends, as logs may show it."""
        return self.kind

    @property
    def workers(self) -> int:
        """Notifications in hand at once; one keeps them in order."""
        return 1

    @property
    def attempt_timeout(self) -> float:
        return self.options.timeout

    #: Seconds between calls of :meth:`refresh` (None: never).
    refresh_interval: float | None = None

    def accepts(self, notification: Notification) -> bool:
        return notification.action in self.actions

    def redact(self, text: str) -> str:
        """``text`` without this output's secrets, for the log."""
        return text

    @abstractmethod
    async def send(self, notification: Notification) -> None:
        """Deliver one notification; raise Retryable or Rejected when it is not delivered."""

    async def refresh(self) -> None:
        """Periodic work between notifications, in their order (Alertmanager's re-posts)."""

    async def aclose(self) -> None:
        """Release what the output holds."""


HttpOptionsT = TypeVar("HttpOptionsT", bound=HttpOptions)


class HttpOutput(Output[HttpOptionsT]):
    """An output whose notification is one JSON POST; a subclass says what JSON."""

    def __init__(self, name: str, options: HttpOptionsT) -> None:
        super().__init__(name, options)
        self.endpoint = Endpoint.parse(options.url)
        self._tls: ssl.SSLContext | None = None  # made at the first https request (it reads the CA store)
        self._headers = [("Content-Type", "application/json"), *options.headers.items()]
        header_words = [word for value in options.headers.values() for word in value.split() if len(word) >= 6]
        self._secrets = (*self.endpoint.secrets, *self.secrets(), *(v for v in options.headers.values() if v))
        self._secrets += tuple(header_words)

    def secrets(self) -> tuple[str, ...]:
        """What else of the options must never be logged (a routing key)."""
        return ()

    @property
    def where(self) -> str:
        return self.endpoint.origin

    def redact(self, text: str) -> str:
        return redact(text, self._secrets)

    @abstractmethod
    def encode(self, notification: Notification) -> object | None:
        """The JSON document for ``notification`` (None: nothing to send)."""

    async def send(self, notification: Notification) -> None:
        document = self.encode(notification)
        if document is not None:
            await self.post(document)

    async def post(self, document: object) -> Answer:
        try:
            body = orjson.dumps(document)
        except orjson.JSONEncodeError as exc:  # text that is not Unicode (a lone surrogate)
            raise Rejected(f"not JSON: {exc}", "unencodable") from None
        if self.endpoint.https and self._tls is None:
            self._tls = tls_context(self.options.ca_file)
        try:
            answer = await post(self.endpoint, body, self._headers, self._tls)
        except HttpFailure as exc:
            raise Retryable(str(exc)) from None
        check_answer(answer, self.endpoint.origin)
        return answer


def check_answer(answer: Answer, origin: str) -> None:
    """Return on 2xx; Retryable on 408, 429 and 5xx (with Retry-After, if said);
    Rejected on anything else, with the start of the answer's body (for the log)."""
    status = answer.status
    if 200 <= status < 300:
        return
    said = answer.body[:300].decode("utf-8", "replace").strip()
    what = f"{origin} answered {status}" + (f": {said}" if said else "")
    if status in (408, 429) or status >= 500:
        raise Retryable(what, retry_after_seconds(answer.header("retry-after")))
    raise Rejected(what)


def retry_after_seconds(value: str | None, now: datetime.datetime | None = None) -> float | None:
    """A Retry-After header's delay in seconds (delta-seconds or an HTTP date); None when
    absent or not understood. Never negative."""
    if value is None:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(min(int(value), 10**9))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.UTC)
    now = now or datetime.datetime.now(datetime.UTC)
    return max(0.0, (when - now).total_seconds())


# -- what the encoders share --------------------------------------------------------------

_EARLIEST_MS = -62135596800000  # 0001-01-01T00:00:00Z
_LATEST_MS = 253402300799999  # 9999-12-31T23:59:59.999Z


def iso_ms(ms: int) -> str:
    """RFC 3339 UTC with milliseconds: ``2024-05-01T12:00:00.250Z`` (clamped to years 1..9999)."""
    ms = min(max(ms, _EARLIEST_MS), _LATEST_MS)
    when = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC) + datetime.timedelta(milliseconds=ms)
    return (
        f"{when.year:04d}-{when.month:02d}-{when.day:02d}T{when.hour:02d}:{when.minute:02d}:{when.second:02d}"
        f".{when.microsecond // 1000:03d}Z"
    )  # not strftime: its %Y gives years before 1000 fewer than four digits


def finite(value: float | None) -> float | None:
    """JSON has no NaN nor infinity: those become null."""
    return value if value is not None and math.isfinite(value) else None
