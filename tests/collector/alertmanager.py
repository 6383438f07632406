"""A real Prometheus Alertmanager (Debian's prometheus-alertmanager, 0.25) on 127.0.0.1,
stopped by its PID.

Clustering is off (no gossip port), its storage is the test's folder, and its one
receiver is a webhook to a :class:`~tests.collector.alert_receivers.Receiver` the test
holds (``hook``), with group_wait 0 s and group_interval 1 s, so Alertmanager's own firing and
resolved notifications arrive within a second or two of the change.
"""

from __future__ import annotations

import shutil
import subprocess
import urllib.parse
import urllib.request
from pathlib import Path

import orjson

from ..processes import terminate
from ..waiting import wait_for
from .alert_receivers import Receiver
from .numbatd import free_port


class Alertmanager:
    def __init__(self, workdir: Path, hook: Receiver, port: int | None = None) -> None:
        binary = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
        if binary is None:
            raise RuntimeError(
                "prometheus-alertmanager is not installed; ./run-tests installs Debian's prometheus-alertmanager"
            )
        self.binary = binary
        self.workdir = workdir
        self.hook = hook  #: what Alertmanager itself notifies
        self.port = port or free_port()
        self.config = workdir / "alertmanager.yml"
        self.config.write_text(
            f"""
route:
  receiver: test
  group_by: ['...']
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: test
    webhook_configs:
      - url: "{hook.url}/alertmanager"
        send_resolved: true
"""
        )
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Alertmanager:
        storage = self.workdir / "data"
        storage.mkdir(exist_ok=True)
        command = [
            self.binary,
            f"--config.file={self.config}",
            f"--storage.path={storage}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--cluster.listen-address=",
            "--log.level=warn",
        ]
        with open(self.workdir / "alertmanager.log", "ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=log)
        if not wait_for(self.ready, 30):
            raise RuntimeError("alertmanager did not become ready: " + (self.workdir / "alertmanager.log").read_text())
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

    def alerts(self, **filters: str) -> list[dict]:
        """GET /api/v2/alerts: the alerts Alertmanager holds active (unresolved)."""
        query = f"?{urllib.parse.urlencode(filters)}" if filters else ""
        with urllib.request.urlopen(f"{self.url}/api/v2/alerts{query}", timeout=5) as response:
            return orjson.loads(response.read())
