"""Where a backfill reads log objects: a URL, turned into a libcloud driver, a container
and a prefix; the objects listed; the dates their names carry.

Sources (the URL's parsing and the date rules are pure; ``driver()``, ``list_objects()``
and ``stream_object()`` do the I/O):

- ``/path/to/folder``, ``file:///path/to/folder`` — a local folder (libcloud's local
  driver: the folder's parent is the driver's base path, the folder its container);
- ``s3://bucket/prefix`` — Amazon S3 (``?region=eu-west-1``) or, with
  ``?endpoint=http://host:port``, any S3-compatible store (SeaweedFS, MinIO, Ceph...);
- ``libcloud+PROVIDER://container/prefix?option=value`` — any other libcloud storage
  driver by its provider name (``google_storage``, ``azure_blobs``...); query options
  become the driver's keyword arguments.

A :class:`Source` is a frozen, picklable value: the parent lists with it, and each worker
(a pool process or a Dask worker) builds its own driver from it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import re
import threading
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from libcloud.common.aws import AWSRequestSignerAlgorithmV4
from libcloud.storage.base import Container, Object, StorageDriver
from libcloud.storage.drivers.s3 import REGION_TO_HOST_MAP, BaseS3StorageDriver, S3SignatureV4Connection
from libcloud.storage.providers import get_driver
from libcloud.storage.types import Provider

#: Environment variables read for credentials, most specific first.
KEY_VARIABLES = ("NUMBAT_STORAGE_KEY", "AWS_ACCESS_KEY_ID")
SECRET_VARIABLES = ("NUMBAT_STORAGE_SECRET", "AWS_SECRET_ACCESS_KEY")
TOKEN_VARIABLES = ("NUMBAT_STORAGE_TOKEN", "AWS_SESSION_TOKEN")


class SourceError(ValueError):
    """A source URL or credentials file that cannot be used; the message says why."""


@dataclass(frozen=True)
class Credentials:
    key: str | None = None
    secret: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Source:
    kind: str  #: "folder", "s3" or "libcloud+PROVIDER"
    container: str
    prefix: str = ""
    base_path: str = ""  #: local: the folder holding the container
    endpoint: str | None = None  #: s3: http(s)://host[:port] of an S3-compatible store
    region: str = "us-east-1"
    options: tuple[tuple[str, str], ...] = ()  #: other drivers: keyword arguments
    credentials: Credentials = Credentials()

    def describe(self) -> str:
        """The source without credentials, for summaries and logs."""
        if self.kind == "folder":
            return str(Path(self.base_path) / self.container / self.prefix)
        where = f" at {self.endpoint}" if self.endpoint else ""
        return f"{self.kind}://{self.container}/{self.prefix}{where}"

    @property
    def provider(self) -> str:
        """A libcloud+PROVIDER source's libcloud provider name."""
        return self.kind.removeprefix("libcloud+")

    def object_key(self, name: str) -> str:
        """An object as the store knows it: its name qualified by the folder, bucket or
        container, so that two sources' objects of the same name are never taken for one
        another."""
        if self.kind == "folder":
            return f"{(Path(self.base_path) / self.container).as_uri()}/{name}"
        return f"{self.kind}://{self.container}/{name}"

    def with_prefix(self, more: str) -> Source:
        return dataclasses.replace(self, prefix=self.prefix + more)

    def driver(self) -> StorageDriver:
        if self.kind == "folder":
            return get_driver(Provider.LOCAL)(self.base_path)
        key, secret, token = self.credentials.key, self.credentials.secret, self.credentials.token
        if self.kind == "s3":
            if not key or not secret:
                raise SourceError(
                    "S3 needs a key and a secret: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or use --credentials"
                )
            if self.endpoint:
                parts = urlsplit(self.endpoint)
                secure = parts.scheme == "https"
                host, port = parts.hostname or "", parts.port or (443 if secure else 80)
            else:
                secure, port = True, 443
                host = REGION_TO_HOST_MAP.get(self.region, f"s3.{self.region}.amazonaws.com")
            return S3CompatibleDriver(key, secret, secure=secure, host=host, port=port, region=self.region, token=token)
        return self._other_driver(key, secret, token)

    def _other_driver(self, key: str | None, secret: str | None, token: str | None) -> StorageDriver:
        """Any libcloud storage driver: query options as its keyword arguments, ``port``
        a number and ``secure`` a truth as libcloud wants them."""
        kwargs: dict[str, Any] = dict(self.options)
        try:
            if "port" in kwargs:
                kwargs["port"] = int(kwargs["port"])
            if "secure" in kwargs:
                kwargs["secure"] = kwargs["secure"].lower() in ("1", "true", "yes")
            if token:
                kwargs["token"] = token
            driver_class = get_driver(self.provider)
        except AttributeError as exc:
            raise SourceError(f"no libcloud storage driver named {self.provider!r}") from exc
        except ValueError as exc:
            raise SourceError(f"port must be a number: {exc}") from exc
        try:
            return driver_class(key, secret, **kwargs)
        except TypeError as exc:
            raise SourceError(f"libcloud's {self.provider} driver refused the options: {exc}") from exc

    def open_container(self) -> tuple[StorageDriver, Container]:
        driver = self.driver()
        return driver, driver.get_container(self.container)


@dataclass(frozen=True)
class ObjectInfo:
    """A listed log object: what identifies this version of it (etag and size)."""

    name: str
    size: int
    etag: str


def parse_source(url: str, credentials: Credentials | None = None) -> Source:
    """``url`` as a :class:`Source` (see the module's docstring for the forms)."""
    # The scheme by hand: urlsplit refuses the underscore of libcloud's provider names.
    scheme, has_scheme, rest = url.partition("://")
    if not has_scheme:
        scheme, rest = "", url
    parts = urlsplit(f"x://{rest}")
    query = dict(parse_qsl(parts.query))
    creds = credentials if credentials is not None else Credentials()
    if scheme in ("", "file"):
        folder = Path(unquote(parts.path) if scheme else url).expanduser().resolve()
        if folder == folder.parent:
            raise SourceError("a local source must be a folder below the root, not / itself")
        return Source("folder", container=folder.name, base_path=str(folder.parent))
    container = unquote(parts.netloc)
    if not container:
        raise SourceError(f"{url}: the URL names no bucket or container")
    prefix = unquote(parts.path).lstrip("/")
    if scheme == "s3":
        endpoint = query.pop("endpoint", None)
        if endpoint is not None and not _is_endpoint(endpoint):
            raise SourceError(f"{url}: endpoint must be http://host[:port] or https://host[:port]")
        region = query.pop("region", "us-east-1")
        if query:
            raise SourceError(f"{url}: unknown option(s) {', '.join(sorted(query))}; s3 takes endpoint and region")
        return Source("s3", container, prefix, endpoint=endpoint, region=region, credentials=creds)
    if scheme.startswith("libcloud+"):
        provider = scheme.removeprefix("libcloud+").replace("-", "_")
        return Source(
            f"libcloud+{provider}", container, prefix, options=tuple(sorted(query.items())), credentials=creds
        )
    raise SourceError(f"{url}: use a folder, file://, s3:// or libcloud+PROVIDER:// URL")


def _is_endpoint(url: str) -> bool:
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018 - raises ValueError for a port that is no number
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def load_credentials(path: Path | None, environ: Mapping[str, str] = os.environ) -> Credentials:
    """Credentials from a TOML file (``key``, ``secret``, optional ``token``) when given,
    else from the environment; a file keeps secrets out of process listings and shells'
    histories."""
    if path is not None:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise SourceError(f"{path}: {exc}") from exc
        unknown = set(data) - {"key", "secret", "token"}
        if unknown:
            raise SourceError(f"{path}: unknown key(s) {', '.join(sorted(unknown))}; expected key, secret, token")
        for name, value in data.items():
            if not isinstance(value, str):
                raise SourceError(f"{path}: {name} must be a string")
        return Credentials(data.get("key"), data.get("secret"), data.get("token"))

    def first(names: tuple[str, ...]) -> str | None:
        return next((environ[name] for name in names if environ.get(name)), None)

    return Credentials(first(KEY_VARIABLES), first(SECRET_VARIABLES), first(TOKEN_VARIABLES))


def list_objects(source: Source) -> Iterator[ObjectInfo]:
    """Every object under the source's prefix, as the store lists them."""
    driver, container = source.open_container()
    for obj in driver.iterate_container_objects(container, prefix=source.prefix or None):
        if obj.name.endswith("/"):  # folder markers some stores list
            continue
        yield ObjectInfo(obj.name, int(obj.size or 0), str(obj.hash or ""))


def stream_object(source: Source, info: ObjectInfo, chunk_size: int = 1 << 20) -> Iterator[bytes]:
    """The object's bytes, chunk by chunk, never the whole object at once. The object is
    named, not looked up: a lookup would cost S3 two more requests per object."""
    driver = _thread_driver(source)
    container = Container(name=source.container, extra={}, driver=driver)
    obj = Object(info.name, info.size, info.etag, {}, {}, container, driver)
    return iter(driver.download_object_as_stream(obj, chunk_size=chunk_size))


_local = threading.local()


def _thread_driver(source: Source) -> StorageDriver:
    """One driver per source and thread, so that a worker keeps its connection across
    objects (libcloud's connections are not to be shared between threads)."""
    drivers: dict[Source, StorageDriver] = _local.__dict__.setdefault("drivers", {})
    if source not in drivers:
        drivers[source] = source.driver()
    return drivers[source]


# -- dates in object names ----------------------------------------------------------------

#: 2026-11-20 (CloudFront's E123.2026-11-20-13.abcd.gz too), 2026/11/20, year=2026/month=11/day=20
NAME_DATE = re.compile(
    r"(?<!\d)(\d{4})([-/])(\d{2})\2(\d{2})(?!\d)|year=(\d{4})/month=(\d{1,2})/day=(\d{1,2})(?!\d)",
)


def date_in_name(name: str) -> dt.date | None:
    """The last date an object's name carries (the most specific part of a path), if any."""
    found = None
    for match in NAME_DATE.finditer(name):
        year, month, day = (match[1], match[3], match[4]) if match[1] else (match[5], match[6], match[7])
        try:
            found = dt.date(int(year), int(month), int(day))
        except ValueError:
            continue
    return found


# -- S3-compatible stores -----------------------------------------------------------------


class _PlainS3Signer(AWSRequestSignerAlgorithmV4):
    """libcloud's SigV4 signer adds ``Version=2006-03-01`` to every GET, a parameter of
    AWS's query APIs that S3's REST API does not have. AWS ignores it; SeaweedFS answers
    501 to a listing that carries it. Sending none works with both."""

    def get_request_params(self, params: dict[str, Any], method: str = "GET", path: str = "/") -> dict[str, Any]:
        return params


class _PlainS3Connection(S3SignatureV4Connection):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[no-untyped-call]
        self.signer = _PlainS3Signer(  # type: ignore[assignment, no-untyped-call]
            access_key=self.user_id, access_secret=self.key, version=self.version, connection=self
        )


class S3CompatibleDriver(BaseS3StorageDriver):
    """S3 at any host and port, any region name, with path-style requests. libcloud's
    own S3 driver accepts only AWS's region names and its MinIO driver sets the host on
    the connection class, for every instance at once."""

    name = "S3-compatible"
    connectionCls = _PlainS3Connection

    def __init__(
        self, key: str, secret: str, *, secure: bool, host: str, port: int, region: str, token: str | None = None
    ) -> None:
        self.region_name = region
        self._token = token
        super().__init__(key=key, secret=secret, secure=secure, host=host, port=port)  # type: ignore[no-untyped-call]

    def _ex_connection_class_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = super()._ex_connection_class_kwargs()  # type: ignore[no-untyped-call]
        if self._token:
            kwargs["token"] = self._token
        return kwargs
