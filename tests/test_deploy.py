"""The systemd units in deploy/ pass ``systemd-analyze verify``, every setting included.

verify needs no running systemd, but it checks that each Exec*= binary exists, and
/opt/numbat is where an operator installs, not where the tests run: each unit is copied
with /opt/numbat/bin/ rewritten to this virtualenv's bin folder, which holds the real
numbatd and numbat-logs. verify answers 0 even for unknown keys and bad values, so the
test also wants it silent; the last test checks that it does speak up. Each unit also names
the extra to install with its program (`pip install numbat` alone is the emitter).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

DEPLOY = Path(__file__).parent.parent / "deploy"
UNITS = sorted(DEPLOY.glob("*.service"))
INSTALLED = "/opt/numbat/bin/"

#: The extra that brings each program's dependencies (pyproject.toml).
EXTRA_OF = {"numbatd": "collector", "numbat-logs": "logs", "numbat-run": "run"}

needs_verify = pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")


def verify(unit_text: str, name: str, folder: Path) -> subprocess.CompletedProcess[str]:
    copy = folder / name
    copy.write_text(unit_text.replace(INSTALLED, f"{Path(sys.executable).parent}/"))
    return subprocess.run(
        ["systemd-analyze", "verify", "--man=no", str(copy)], capture_output=True, text=True, timeout=60, check=False
    )


@needs_verify
@pytest.mark.parametrize("unit", UNITS, ids=[unit.name for unit in UNITS])
def test_the_unit_verifies(unit, tmp_path) -> None:
    text = unit.read_text()
    assert INSTALLED in text  # the one path rewritten
    result = verify(text, unit.name, tmp_path)
    assert (result.returncode, ours(result.stdout + result.stderr)) == (0, [])


#: Where the machine's own units live: verify loads some of them with ours (the test suite's
#: Debian packages bring units, carbon-cache's among them), and what it says of those is not ours to fix.
SYSTEM_UNITS = re.compile(r"^/(usr/)?lib/systemd/|^/etc/systemd/")


def ours(output: str) -> list[str]:
    """What verify said, but of the machine's own units."""
    return [line for line in output.splitlines() if not SYSTEM_UNITS.match(line)]


def test_the_units_give_numba_a_cache_directory() -> None:
    """numbatd's and numbat-logs' units; numbat-run (its units wrap other services) loads no numba."""
    for unit in UNITS:
        if f"\nExecStart={INSTALLED}numbat-run " not in unit.read_text():
            assert "\nCacheDirectory=" in unit.read_text(), unit.name


@pytest.mark.parametrize("unit", UNITS, ids=[unit.name for unit in UNITS])
def test_the_unit_says_which_extra_to_install(unit) -> None:
    """``pip install numbat`` is the emitter alone: the unit's install line names the extra
    its program needs."""
    text = unit.read_text()
    programs = set(re.findall(rf"^Exec\w*={re.escape(INSTALLED)}(\S+)", text, flags=re.MULTILINE))
    assert len(programs) == 1, programs
    assert f"/opt/numbat/bin/pip install 'numbat[{EXTRA_OF[programs.pop()]}]'" in text


@needs_verify
def test_verify_does_complain_of_a_bad_setting(tmp_path) -> None:
    text = (DEPLOY / "numbatd.service").read_text().replace("ProtectSystem=strict", "ProtectSystem=stricter")
    result = verify(text, "numbatd.service", tmp_path)
    assert "stricter" in "\n".join(ours(result.stdout + result.stderr))
