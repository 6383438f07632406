"""jit.loading: cached machine code loads without numba's registry refresh, and works; a
cache miss inside the block, and compilations after it, still compile on numba's own path."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

MODULE = """
import numpy as np
from numba import njit, types

from jit.loading import quick_cache_loads

def _total(data, extra):
    out = np.empty(data.size, dtype=np.int64)  # an array numba's runtime allocates
    for index in range(data.size):
        out[index] = data[index] + extra
    return out

with quick_cache_loads():
    total = njit((types.Array(types.int64, 1, "C"), types.int64), cache=True)(_total)
"""

PROBE = """
import json, sys
import numpy as np
import numba
import probe_module
loaded_registries = "numba.np.linalg" in sys.modules
result = probe_module.total(np.arange(5, dtype=np.int64), 10).tolist()
hits = sum(probe_module.total.stats.cache_hits.values())

@numba.njit
def later(x):  # compiled after the block, on numba's own path
    return np.sum(np.arange(x))

print(json.dumps({"registries": loaded_registries, "result": result, "hits": hits, "later": int(later(5))}))
"""


def run_probe(folder: Path) -> dict[str, object]:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(folder / "cache"), "PYTHONPATH": f"{folder}{os.pathsep}{ROOT}"}
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(PROBE)], env=env, capture_output=True, text=True, timeout=120, check=True
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_cached_code_loads_without_the_registries_and_compilations_still_work(tmp_path) -> None:
    (tmp_path / "probe_module.py").write_text(textwrap.dedent(MODULE))
    first = run_probe(tmp_path)  # a miss: compiled inside the block, on numba's own path
    assert first == {"registries": True, "result": [10, 11, 12, 13, 14], "hits": 0, "later": 10}
    second = run_probe(tmp_path)  # a hit: loaded without the refresh, which would import numba.np.linalg
    assert second == {"registries": False, "result": [10, 11, 12, 13, 14], "hits": 1, "later": 10}
