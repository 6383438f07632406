"""Each numbat-logs subcommand imports only what it uses: ``count`` of a small log starts
reading without loading numba, trio, hypercorn, Starlette or libcloud; ``serve`` loads no
numba. Checked in fresh interpreters, by what ``sys.modules`` holds."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from .test_cli import LINES

#: The heavy packages, by the subcommands that may load them.
HEAVY = {"numba", "numpy", "trio", "hypercorn", "starlette", "libcloud", "distributed", "zstandard"}
MAY_LOAD = {
    "count": set(),  # a small plain log: the core, the reader and the store only
    "live": {"trio"},  # numba too, but only when the job starts (warm_for), not at import
    "backfill": {"libcloud"},
    "serve": {"trio", "hypercorn", "starlette"},
}


def loaded_by(program: str) -> set[str]:
    """The heavy packages in ``sys.modules`` once ``program`` has run, in a fresh interpreter."""
    report = f"import sys, json\nprint(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & set({sorted(HEAVY)!r}))))"
    result = subprocess.run(
        [sys.executable, "-c", f"{program}\n{report}"], capture_output=True, text=True, timeout=120, check=True
    )
    return set(json.loads(result.stdout.splitlines()[-1]))


def test_count_of_a_small_log_loads_none_of_the_heavy_packages(tmp_path) -> None:
    log = tmp_path / "a.log"
    log.write_text("\n".join(LINES) + "\n")
    program = (
        "from log_parser.cli import main\n"
        f"status = main(['count', {str(log)!r}, '--db', {str(tmp_path / 'd.sqlite')!r}])\n"
        "assert status == 0, status"
    )
    assert loaded_by(program) == set()


@pytest.mark.parametrize("command", sorted(MAY_LOAD))
def test_each_subcommand_imports_only_what_it_uses(command) -> None:
    program = f"import log_parser.cli, log_parser._commands.{command}"
    loaded = loaded_by(program)
    assert loaded <= MAY_LOAD[command], loaded - MAY_LOAD[command]
    assert loaded_by("import log_parser.cli") == set()  # the arguments are read with none of them
