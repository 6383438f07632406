"""A real carbon-cache (Debian's graphite-carbon) on 127.0.0.1, in the foreground, stopped by its PID;
and what it stored, read back from its whisper files with whisper itself.

Carbon keeps one second per point here (``retentions = 1s:6h``), so every point sent in
the last six hours has a place of its own. Its whisper files are read by the system's
Python (python3-whisper is Debian's package, for /usr/bin/python3), and named back with
carbon's own decoding of a file's path (``TaggedSeries.decode``): the tests see the
paths carbon stored, as it stored them.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
from pathlib import Path

from ..processes import terminate
from ..waiting import wait_for
from .numbatd import free_port

SYSTEM_PYTHON = "/usr/bin/python3"
RETENTION = 6 * 3600  #: seconds of points at 1 s kept: sent points must be newer than this

#: Every whisper file under the storage folder: {path: {second: value}} as JSON.
_READER = """
import json, os, sys, time
import whisper
from carbon.util import TaggedSeries

root, prefix = sys.argv[1], sys.argv[2]
now = int(time.time())
found = {}
for folder, _, files in os.walk(root):
    for name in files:
        if not name.endswith(".wsp"):
            continue
        full = os.path.join(folder, name)
        path = TaggedSeries.decode(os.path.relpath(full, root)[: -len(".wsp")], sep=os.sep)
        if not path.startswith(prefix):
            continue
        (start, end, step), values = whisper.fetch(full, now - whisper.info(full)["maxRetention"] + 1, now + 1)
        found[path] = {str(t): v for t, v in zip(range(start, end, step), values) if v is not None}
json.dump(found, sys.stdout)
"""


class Carbon:
    """carbon-cache with its plaintext (``line_port``) and pickle (``pickle_port``)
    receivers; ``start`` and ``stop`` may alternate, keeping the storage. ``settings``:
    more of carbon.conf's ``[cache]`` keys (``PICKLE_RECEIVER_MAX_LENGTH``...)."""

    def __init__(self, workdir: Path, settings: dict[str, object] | None = None) -> None:
        binary = shutil.which("carbon-cache")
        if binary is None:
            raise RuntimeError("carbon-cache is not installed; ./run-tests installs Debian's graphite-carbon")
        self.binary = binary
        self.workdir = workdir
        self.storage = workdir / "storage" / "whisper"
        self.line_port, self.pickle_port, self.query_port = free_port(), free_port(), free_port()
        conf = workdir / "conf"
        conf.mkdir(parents=True, exist_ok=True)
        (workdir / "log").mkdir(exist_ok=True)
        self.config = conf / "carbon.conf"
        self.config.write_text(
            f"""[cache]
STORAGE_DIR = {workdir}/storage/
LOCAL_DATA_DIR = {self.storage}/
WHITELISTS_DIR = {workdir}/storage/lists/
CONF_DIR = {conf}/
LOG_DIR = {workdir}/log/
PID_DIR = {workdir}/
USER =
MAX_CACHE_SIZE = inf
MAX_UPDATES_PER_SECOND = inf
MAX_CREATES_PER_MINUTE = inf
MIN_TIMESTAMP_RESOLUTION = 1
LINE_RECEIVER_INTERFACE = 127.0.0.1
LINE_RECEIVER_PORT = {self.line_port}
PICKLE_RECEIVER_INTERFACE = 127.0.0.1
PICKLE_RECEIVER_PORT = {self.pickle_port}
CACHE_QUERY_INTERFACE = 127.0.0.1
CACHE_QUERY_PORT = {self.query_port}
ENABLE_UDP_LISTENER = False
LOG_UPDATES = False
LOG_CREATES = False
LOG_CACHE_HITS = False
LOG_CACHE_QUEUE_SORTS = False
LOG_LISTENER_CONN_SUCCESS = False
ENABLE_LOGROTATION = False
WHISPER_FALLOCATE_CREATE = True
# no graphite-web to register tags with; tagged series named by their paths, not hashes
ENABLE_TAGS = False
TAG_HASH_FILENAMES = False
# carbon's own metrics off: the storage holds what the tests sent, nothing else
CARBON_METRIC_INTERVAL = 0
"""
            + "".join(f"{key} = {value}\n" for key, value in (settings or {}).items())
        )
        (conf / "storage-schemas.conf").write_text(f"[everything]\npattern = .*\nretentions = 1s:{RETENTION}s\n")
        self.pidfile = workdir / "carbon-cache.pid"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Carbon:
        self.pidfile.unlink(missing_ok=True)
        with open(self.workdir / "carbon.out", "ab") as out:
            self.process = subprocess.Popen(
                [
                    self.binary,
                    f"--config={self.config}",
                    f"--pidfile={self.pidfile}",
                    f"--logdir={self.workdir}/log",
                    "--nodaemon",
                    "start",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        if not wait_for(lambda: self.listening() or self.process.poll() is not None, 30):  # type: ignore[union-attr]
            self.stop()
            raise RuntimeError(f"carbon-cache did not listen:\n{self.output()}")
        if self.process.poll() is not None:
            raise RuntimeError(f"carbon-cache exited with {self.process.returncode}:\n{self.output()}")
        return self

    def listening(self) -> bool:
        for port in (self.line_port, self.pickle_port):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
            except OSError:
                return False
        return True

    def stop(self) -> None:
        """SIGTERM: carbon writes what its cache holds to whisper, then exits."""
        terminate(self.process, timeout=30)
        self.process = None

    def output(self) -> str:
        path = self.workdir / "carbon.out"
        return path.read_text(errors="replace") if path.exists() else ""

    def port(self, protocol: str) -> int:
        return self.line_port if protocol == "plaintext" else self.pickle_port

    def stored(self, prefix: str = "") -> dict[str, dict[int, float]]:
        """Every path carbon stored (that starts with ``prefix``) and its points, by second."""
        if not self.storage.exists():
            return {}
        result = subprocess.run(
            [SYSTEM_PYTHON, "-c", _READER, str(self.storage), prefix],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        return {path: {int(t): v for t, v in points.items()} for path, points in json.loads(result.stdout).items()}

    def count(self) -> int:
        return sum(len(points) for points in self.stored().values())
