"""Run the real numbatd as a process, on free ports of 127.0.0.1, and stop it by its PID."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path

import orjson
from prometheus_client.parser import text_string_to_metric_families

from ..waiting import wait_for

_handed_out: set[int] = set()


def free_port() -> int:
    """A port free for both TCP and UDP on 127.0.0.1 (so one number serves both listeners),
    never the same one twice in a test run."""
    for _ in range(100):
        with socket.socket() as tcp, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            tcp.bind(("127.0.0.1", 0))
            port = tcp.getsockname()[1]
            if port in _handed_out:
                continue
            try:
                udp.bind(("127.0.0.1", port))
            except OSError:
                continue
            _handed_out.add(port)
            return port
    raise RuntimeError("no free port")


class Numbatd:
    """``config`` is TOML; ``{metrics}`` in it is replaced by the self-metrics address.
    ``wrapper`` goes before the command (it must exec it, so the PID stays numbatd's);
    ``env``, if given, is numbatd's whole environment."""

    def __init__(
        self, workdir: Path, config: str, wrapper: Sequence[str] = (), env: Mapping[str, str] | None = None
    ) -> None:
        self.workdir = workdir
        self.wrapper = list(wrapper)
        self.env = env
        self.metrics_port = free_port()
        self.config_path = workdir / "numbat.toml"
        self.stdout_path = workdir / "numbatd.stdout"
        self.stderr_path = workdir / "numbatd.stderr"
        self.write_config(config)
        self.process: subprocess.Popen[bytes] | None = None
        self._terminated = False

    def write_config(self, config: str) -> None:
        metrics = f'\n[self_metrics]\nlisten = "127.0.0.1:{self.metrics_port}"\n'
        self.config_path.write_text(config + metrics)

    def start(self, timeout: float = 20) -> Numbatd:
        with open(self.stdout_path, "ab") as out, open(self.stderr_path, "ab") as err:
            self.process = subprocess.Popen(
                [*self.wrapper, sys.executable, "-m", "collector", "--config", str(self.config_path)],
                stdout=out,
                stderr=err,
                cwd=self.workdir,
                env=self.env,
            )
        if not wait_for(lambda: self.ready() or self.process.poll() is not None, timeout):  # type: ignore[union-attr]
            self.kill()
            raise AssertionError(f"numbatd did not become ready:\n{self.stderr()}")
        if self.process.poll() is not None:
            raise AssertionError(f"numbatd exited with {self.process.returncode}:\n{self.stderr()}")
        return self

    def get(self, path: str) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}{path}", timeout=5) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()
        except OSError:
            return 0, b""

    def ready(self) -> bool:
        return self.get("/readyz")[0] == 200

    def metric(self, name: str, **labels: str) -> float:
        """The sum of a self-metric's samples that carry ``labels``."""
        _, text = self.get("/metrics")
        total = 0.0
        for family in text_string_to_metric_families(text.decode()):
            for sample in family.samples:
                if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                    total += sample.value
        return total

    def signal(self, signum: int) -> None:
        assert self.process is not None
        if signum == signal.SIGTERM:
            self._terminated = True
        os.kill(self.process.pid, signum)

    def stop(self, timeout: float = 20) -> int:
        """SIGTERM (once: a second one could land while Python finalizes, when the
        default action kills), then wait; the exit status."""
        assert self.process is not None
        if self.process.poll() is None and not self._terminated:
            self.signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"numbatd did not stop within {timeout}s:\n{self.stderr()}") from None

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace") if self.stderr_path.exists() else ""

    def logs(self) -> list[dict]:
        entries = []
        for line in self.stderr().splitlines():
            with contextlib.suppress(orjson.JSONDecodeError):
                entries.append(orjson.loads(line))
        return entries


def read_jsonl(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line]


def wait_for_lines(path: Path, count: int, timeout: float = 20) -> list[dict]:
    wait_for(lambda: path.exists() and path.read_bytes().count(b"\n") >= count, timeout)
    time.sleep(0.2)  # anything beyond the count (a duplicate) would show up now
    return read_jsonl(path)


def closed_by_peer(sock: socket.socket) -> bool:
    """Whether the other end closed (EOF or reset), without waiting; what it sent
    before (a 408 answer, say) is read and dropped."""
    try:
        while sock.recv(65536, socket.MSG_DONTWAIT):
            pass
    except BlockingIOError:
        return False
    except ConnectionResetError:
        return True
    return True
