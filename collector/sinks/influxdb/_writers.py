"""Writers for InfluxDB's two write APIs.

Each takes a body of line protocol (precision ms) and either succeeds or raises
:class:`Unavailable` (try again later: connection refused, timeouts, 5xx, auth) or
:class:`BadPoints` (this body will never be accepted as it is: 400, 413). The v1 writer
posts from the event loop itself; influxdb-client's v2 writes block, so they run in a
worker thread.
"""

from __future__ import annotations

import base64
import time
from abc import ABC, abstractmethod
from urllib.parse import urlencode, urlsplit

import trio
import urllib3
from influxdb_client.client.influxdb_client import InfluxDBClient
from influxdb_client.client.write_api import SYNCHRONOUS
from influxdb_client.domain.write_precision import WritePrecision
from influxdb_client.rest import ApiException

from ..remote import HttpClient, RequestFailed, Unavailable


class BadPoints(Exception):
    """The store refused this body as bad input (400) or too large (413)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"{status}: {reason}")
        self.status = status


#: Answers that say "the request is fine, the store is not": worth retrying.
RETRYABLE = frozenset({401, 403, 404, 408, 425, 429})


def classify(status: int, reason: str) -> Exception:
    if status >= 500 or status in RETRYABLE:
        return Unavailable(f"{status}: {reason}")
    return BadPoints(status, reason)


class Writer(ABC):
    def __init__(self, timeout: float, observe: object = None) -> None:
        self.timeout = timeout
        self._observe = observe

    @abstractmethod
    async def _post(self, body: bytes) -> None: ...

    async def write(self, body: bytes) -> None:
        started = time.perf_counter()
        try:
            await self._post(body)
        finally:
            if self._observe is not None:
                self._observe(time.perf_counter() - started)  # type: ignore[operator]

    async def aclose(self) -> None:  # noqa: B027 - optional
        pass


class V2Writer(Writer):
    """``/api/v2/write`` through influxdb-client: InfluxDB 1.8+, 2.x, 3.x and Cloud."""

    def __init__(self, *, url: str, token: str, org: str, bucket: str, timeout: float, observe: object = None) -> None:
        super().__init__(timeout, observe)
        self.org, self.bucket = org, bucket
        self._client = InfluxDBClient(url=url, token=token, org=org, timeout=int(timeout * 1000), enable_gzip=True)
        self._api = self._client.write_api(write_options=SYNCHRONOUS)

    async def _post(self, body: bytes) -> None:
        # abandon_on_cancel: a stop need not wait out a slow request; the body is spooled
        await trio.to_thread.run_sync(self._post_blocking, body, abandon_on_cancel=True)

    def _post_blocking(self, body: bytes) -> None:
        try:
            self._api.write(
                bucket=self.bucket,
                org=self.org,
                record=body,
                write_precision=WritePrecision.MS,  # type: ignore[arg-type]
            )
        except ApiException as exc:
            raise classify(exc.status or 0, _reason(exc.body or exc.reason)) from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise Unavailable(f"{type(exc).__name__}: {exc}") from None

    async def aclose(self) -> None:
        self._client.close()  # type: ignore[no-untyped-call]


class V1Writer(Writer):
    """``/write`` of InfluxDB 1.x, for servers older than 1.8 that have no v2 API."""

    def __init__(
        self,
        *,
        url: str,
        database: str,
        retention_policy: str,
        username: str,
        password: str,
        timeout: float,
        max_connections: int = 2,
        observe: object = None,
    ) -> None:
        super().__init__(timeout, observe)
        query = {"db": database, "precision": "ms"}
        if retention_policy:
            query["rp"] = retention_policy
        self._target = f"{urlsplit(url).path.rstrip('/')}/write?{urlencode(query)}"
        self._headers = [("Content-Type", "text/plain; charset=utf-8")]
        if username:
            credentials = base64.b64encode(f"{username}:{password}".encode()).decode()
            self._headers.append(("Authorization", f"Basic {credentials}"))
        self._client = HttpClient(url, timeout=timeout, max_connections=max_connections)

    async def _post(self, body: bytes) -> None:
        try:
            response = await self._client.post(self._target, body, self._headers)
        except RequestFailed as exc:
            raise Unavailable(str(exc)) from None
        if response.status >= 300:
            raise classify(response.status, _reason(response.body))

    async def aclose(self) -> None:
        await self._client.aclose()


def _reason(body: object) -> str:
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    return str(body)[:500]
