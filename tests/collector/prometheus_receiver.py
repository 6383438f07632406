"""A real Prometheus (Debian's prometheus package, 2.42) on 127.0.0.1, stopped by its PID.

General on purpose: the flags and the configuration text are arguments, so one class
serves a remote-write receiver (``--web.enable-remote-write-receiver``, the default
here) and a server that scrapes. Its storage lives in the folder given, so a restart
keeps what was written (the TSDB's WAL is replayed at start). Queries go through the
HTTP API, as an operator's would.
"""

from __future__ import annotations

import shutil
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from pathlib import Path

import orjson

from ..processes import terminate
from ..waiting import wait_for
from .numbatd import free_port

RECEIVER_FLAGS = ("--web.enable-remote-write-receiver",)
#: Scrapes nothing: a receiver's configuration.
QUIET_CONFIG = "global:\n  scrape_interval: 1h\n  evaluation_interval: 1h\n"


class Prometheus:
    def __init__(self, workdir: Path, flags: Sequence[str] = RECEIVER_FLAGS, config: str = QUIET_CONFIG) -> None:
        binary = shutil.which("prometheus")
        if binary is None:
            raise RuntimeError("prometheus is not installed; ./run-tests installs Debian's prometheus package")
        self.binary = binary
        self.workdir = workdir
        self.flags = list(flags)
        self.port = free_port()
        self.config = workdir / "prometheus.yml"
        self.config.write_text(config)
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def write_url(self) -> str:
        return f"{self.url}/api/v1/write"

    def start(self, timeout: float = 30) -> Prometheus:
        command = [
            self.binary,
            f"--config.file={self.config}",
            f"--storage.tsdb.path={self.workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--log.level=warn",
            *self.flags,
        ]
        with open(self.workdir / "prometheus.log", "ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=log)
        if not wait_for(lambda: self.ready() or self.process.poll() is not None, timeout):  # type: ignore[union-attr]
            self.stop()
            raise RuntimeError(f"prometheus did not become ready:\n{self.log()}")
        if self.process.poll() is not None:
            raise RuntimeError(f"prometheus exited with {self.process.returncode}:\n{self.log()}")
        return self

    def stop(self) -> None:
        terminate(self.process)
        self.process = None

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1) as response:
                return response.status == 200
        except OSError:
            return False

    def log(self) -> str:
        path = self.workdir / "prometheus.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def api(self, path: str, **params: object) -> object:
        """The ``data`` of a GET to /api/v1/<path>; RuntimeError with Prometheus's own
        words when it answers with an error."""
        query = urllib.parse.urlencode({key: str(value) for key, value in params.items()})
        try:
            with urllib.request.urlopen(f"{self.url}/api/v1/{path}?{query}", timeout=30) as response:
                answer = orjson.loads(response.read())
        except urllib.error.HTTPError as exc:
            answer = orjson.loads(exc.read())
        if answer.get("status") != "success":
            raise RuntimeError(f"{answer.get('errorType')}: {answer.get('error')}")
        return answer["data"]

    def series(self, selector: str, start: float = 0, end: float = 4e9) -> list[dict[str, str]]:
        """Every series that matches ``selector``, as its labels."""
        return self.api("series", **{"match[]": selector, "start": start, "end": end})  # type: ignore[return-value]

    def samples(
        self, selector: str, window: str = "1d", at: float | None = None
    ) -> dict[tuple, list[tuple[int, float]]]:
        """Every raw sample of the series ``selector`` matches in the ``window`` before
        ``at`` (now by default), point by point: {sorted label items: [(ms, value)]}."""
        params: dict[str, object] = {"query": f"{selector}[{window}]"}
        if at is not None:
            params["time"] = at
        data = self.api("query", **params)
        found = {}
        for result in data["result"]:  # type: ignore[index]
            labels = tuple(sorted(result["metric"].items()))
            found[labels] = [(round(float(t) * 1000), float(v)) for t, v in result["values"]]
        return found

    def count(self, selector: str, window: str = "1d") -> int:
        """How many raw samples the series ``selector`` matches hold in ``window``."""
        return sum(map(len, self.samples(selector, window).values()))
