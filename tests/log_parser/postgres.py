"""A real PostgreSQL (Debian's postgresql package) on 127.0.0.1, stopped by its PID.

``initdb`` makes a cluster in a temporary folder (trust authentication, for the local
test user only), ``postgres`` serves it on 127.0.0.1 and a free port, its socket in that
folder too, with fsync off: the tests kill writers, never the server, so durability
across a power cut is not what they check, and a fresh database per test is then cheap
(``CREATE DATABASE ... TEMPLATE``). PostgreSQL refuses to run as root: as root, the
server runs as the ``postgres`` user the package creates, and the folder is given to it.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import uuid
from pathlib import Path

import psycopg

from ..processes import terminate
from ..waiting import wait_for
from .seaweedfs import free_ports

USER = "numbat"


def postgres_bin() -> Path:
    """The folder of ``initdb`` and ``postgres``: Debian keeps them off the PATH, in
    /usr/lib/postgresql/VERSION/bin (the newest one wins)."""
    found = shutil.which("initdb")
    if found is not None and shutil.which("postgres") is not None:
        return Path(found).resolve().parent
    folders = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda f: int(Path(f).parent.name))
    if not folders:
        raise RuntimeError("PostgreSQL is not installed; ./run-tests installs Debian's postgresql package")
    return Path(folders[-1])


class PostgreSQL:
    def __init__(self, workdir: Path, *, durable: bool = False) -> None:
        """``durable``: PostgreSQL's own defaults for writing (fsync on), and more shared
        buffers, for a benchmark; the tests' server does without fsync."""
        self.durable = durable
        self.bin = postgres_bin()
        self.port = free_ports(1)[0]
        self.process: subprocess.Popen[bytes] | None = None
        self._as_user: dict[str, object] = {}
        self._own_folder = False
        if os.getuid() == 0:
            # postgres will not run as root, and pytest's folders are root's alone: a
            # folder of its own, given to the postgres user, removed when it stops
            owner = pwd.getpwnam("postgres")
            workdir = Path(tempfile.mkdtemp(prefix="numbat-postgresql-"))
            os.chown(workdir, owner.pw_uid, owner.pw_gid)
            self._as_user = {"user": owner.pw_uid, "group": owner.pw_gid, "extra_groups": []}
            self._own_folder = True
        self.workdir = workdir
        self.data = workdir / "data"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    def start(self) -> PostgreSQL:
        subprocess.run(
            [
                self.bin / "initdb",
                "-D",
                self.data,
                "-U",
                USER,
                "--auth=trust",
                "--no-sync",
                "-E",
                "UTF8",
                "--no-locale",
            ],
            check=True,
            capture_output=True,
            **self._as_user,  # type: ignore[arg-type]
        )
        return self._launch()

    def restart(self) -> PostgreSQL:
        """Stop the server (a fast shutdown: its clients' connections are cut) and start
        it again on the same data and port."""
        self._shut_down()
        return self._launch()

    def _launch(self) -> PostgreSQL:
        log = self.workdir / "postgres.log"
        settings = {
            "listen_addresses": "127.0.0.1",
            "port": str(self.port),
            "unix_socket_directories": str(self.workdir),
            "max_connections": "100",
        }
        if self.durable:
            settings |= {"shared_buffers": "512MB", "max_wal_size": "4GB"}
        else:
            settings |= {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
        command = [str(self.bin / "postgres"), "-D", str(self.data)]
        for name, value in settings.items():
            command += ["-c", f"{name}={value}"]
        with open(log, "ab") as output:
            self.process = subprocess.Popen(command, stdout=output, stderr=output, **self._as_user)  # type: ignore[call-overload]
        if not wait_for(self.ready, 30, 0.05):
            self.stop()
            raise RuntimeError(f"postgres did not accept connections: {log.read_text()[-2000:]}")
        return self

    def ready(self) -> bool:
        try:
            psycopg.connect(self.url(), connect_timeout=2).close()
            return True
        except psycopg.OperationalError:
            return False

    def stop(self) -> None:
        """SIGINT, PostgreSQL's fast shutdown (SIGTERM would wait for every client to
        leave); SIGTERM then SIGKILL if it has not stopped in 20 s."""
        self._shut_down()
        if self._own_folder:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def _shut_down(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGINT)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                terminate(self.process, 5)
        self.process = None

    def execute(self, statement: str, url: str | None = None) -> None:
        """One statement, in the database of ``url`` (by default the server's own)."""
        with psycopg.connect(url or self.url(), autocommit=True) as connection:
            connection.execute(statement)  # type: ignore[arg-type]

    def create_database(self, template: str = "template1") -> str:
        """A new, empty database; its URL."""
        name = f"t_{uuid.uuid4().hex[:16]}"
        self.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        return self.url(name)
