"""A real Prometheus (Debian's prometheus package, 2.42) on 127.0.0.1, in a folder of its
own, stopped by its PID.

General on purpose: the configuration is the caller's text (:func:`scrape_config` writes
the usual one), and ``flags`` go on the command line as given (``prometheus_receiver.py``
makes it a remote-write receiver). The HTTP API answers queries (:meth:`query`,
:meth:`query_range`) and says what the scrapes did (:meth:`targets`).
"""

from __future__ import annotations

import shutil
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson

from ..processes import terminate
from ..waiting import wait_for
from .numbatd import free_port


def scrape_config(targets: Mapping[str, str], interval: float = 1.0, path: str = "/metrics") -> str:
    """A configuration that scrapes each ``host:port`` of ``targets``, by job name, every
    ``interval`` seconds (the scrape's timeout is the interval's too)."""
    jobs = "".join(
        f"""
  - job_name: "{job}"
    metrics_path: "{path}"
    static_configs:
      - targets: ["{target}"]
"""
        for job, target in targets.items()
    )
    every = f"{round(interval * 1000)}ms"
    return f"""
global:
  scrape_interval: {every}
  scrape_timeout: {every}
  evaluation_interval: 60s
scrape_configs:{jobs or " []"}
"""


class PrometheusServer:
    def __init__(self, workdir: Path, config: str, flags: Sequence[str] = ()) -> None:
        binary = shutil.which("prometheus")
        if binary is None:
            raise RuntimeError("prometheus is not installed; ./run-tests installs Debian's prometheus package")
        self.binary = binary
        self.workdir = workdir
        self.port = free_port()
        self.config_path = workdir / "prometheus.yml"
        self.config_path.write_text(config)
        self.flags = list(flags)
        self.log_path = workdir / "prometheus.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30) -> PrometheusServer:
        command = [
            self.binary,
            f"--config.file={self.config_path}",
            f"--storage.tsdb.path={self.workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--log.level=warn",
            *self.flags,
        ]
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=log, cwd=self.workdir)
        if not wait_for(lambda: self.ready() or self.process.poll() is not None, timeout, interval=0.05):  # type: ignore[union-attr]
            self.stop()
            raise RuntimeError(f"prometheus did not become ready:\n{self.log()}")
        if self.process.poll() is not None:
            raise RuntimeError(f"prometheus exited with {self.process.returncode}:\n{self.log()}")
        return self

    def stop(self) -> None:
        terminate(self.process)
        self.process = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1) as response:
                return response.status == 200
        except OSError:
            return False

    def api(self, path: str, **params: Any) -> Any:
        """The ``data`` of an answer of the HTTP API (``/api/v1/...``); raises on an error."""
        query = urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})
        try:
            with urllib.request.urlopen(f"{self.url}/api/v1/{path}?{query}", timeout=30) as response:
                answer = orjson.loads(response.read())
        except urllib.error.HTTPError as exc:
            answer = orjson.loads(exc.read())
        if answer.get("status") != "success":
            raise RuntimeError(f"{path}: {answer.get('errorType')}: {answer.get('error')}")
        return answer["data"]

    def query(self, expr: str, time: float | None = None) -> list[dict[str, Any]]:
        """An instant query: ``[{"metric": {labels}, "value": float}]`` (a vector's samples)."""
        data = self.api("query", query=expr, time=time)
        if data["resultType"] != "vector":
            raise RuntimeError(f"{expr}: a {data['resultType']}, not a vector")
        return [{"metric": item["metric"], "value": float(item["value"][1])} for item in data["result"]]

    def query_range(self, expr: str, start: float, end: float, step: float) -> list[dict[str, Any]]:
        """A range query: ``[{"metric": {labels}, "values": [(time, float)...]}]``."""
        data = self.api("query_range", query=expr, start=start, end=end, step=step)
        return [
            {"metric": item["metric"], "values": [(float(t), float(v)) for t, v in item["values"]]}
            for item in data["result"]
        ]

    def targets(self) -> list[dict[str, Any]]:
        """The active targets and how their last scrape went (``health``, ``lastError``...)."""
        return self.api("targets", state="active")["activeTargets"]  # type: ignore[no-any-return]
