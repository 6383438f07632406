"""The systemd units' sandbox, emulated for a real process: a private mount namespace.

deploy/*.service run with ProtectSystem=strict (every file system read-only but /dev,
/proc and /sys), DynamicUser= (no writable home) and systemd's StateDirectory= and
CacheDirectory= as the only writable folders. The tests run as root, and root ignores
permission bits, so the sandbox is made of mounts instead: ``unshare --mount`` gives the
process its own copy of the mount table, every read-write mount in it is remounted
read-only (a read-only mount refuses root too), and the folders the unit would make
writable are bind-mounted read-write over themselves. The mounts are private to that
process: nothing outside changes. No fork: ``unshare`` and then bash exec the command,
so the PID the test holds is the program's own and signals reach it directly.
"""

from __future__ import annotations

import functools
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

_API_FILE_SYSTEMS = ("/proc", "/sys", "/dev")  #: left writable by ProtectSystem=strict


def sandboxed(writable: Sequence[Path]) -> list[str]:
    """A command prefix that runs what follows it read-only but for ``writable``."""
    script = f"""set -eu
while read -r _ _ _ _ point options _; do
    point=$(printf '%b' "$point")  # mountinfo escapes spaces as \\040
    case "$point" in {"|".join(f"{p}|{p}/*" for p in _API_FILE_SYSTEMS)}) continue ;; esac
    case ",$options," in *,rw,*) mount -o remount,bind,ro "$point" ;; esac
done < /proc/self/mountinfo
for folder in {" ".join(shlex.quote(str(path)) for path in writable)}; do
    mount --bind "$folder" "$folder"
    mount -o remount,bind,rw "$folder"
done
exec "$@"
"""
    return ["unshare", "--mount", "--", "bash", "-c", script, "sandbox"]


def unit_environment(home: str | None, **variables: str) -> dict[str, str]:
    """An environment like a DynamicUser service's: PATH, ``home`` (None: no HOME at all)
    and ``variables`` (CACHE_DIRECTORY=, STATE_DIRECTORY=), nothing of numba's."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", **variables}
    if home is not None:
        env["HOME"] = home
    return env


@functools.cache
def sandbox_problem() -> str | None:
    """Why the sandbox cannot be built here (no unshare, mounts not permitted), or None."""
    if shutil.which("unshare") is None:
        return "unshare (util-linux) is not installed"
    with tempfile.TemporaryDirectory() as folder:
        kept, probe = Path(folder, "kept"), Path(folder, "probe")
        kept.mkdir()
        check = f"touch {shlex.quote(str(probe))} 2>/dev/null && exit 3; touch {shlex.quote(str(kept / 'x'))}"
        result = subprocess.run(
            [*sandboxed([kept]), "bash", "-c", check], capture_output=True, text=True, timeout=30, check=False
        )
        if result.returncode != 0 or probe.exists() or not (kept / "x").exists():
            return f"cannot emulate the unit's sandbox with unshare --mount (status {result.returncode}): " + (
                result.stderr.strip() or "the root stayed writable"
            )
    return None


def python_in_sandbox(code: str, writable: Sequence[Path], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in this interpreter inside the sandbox."""
    return subprocess.run(
        [*sandboxed(writable), sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
