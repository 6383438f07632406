"""Loading numba's cached machine code without the half second numba spends first.

Why: when numba loads a cached function it first calls its target context's
``refresh()``, which imports and installs every implementation registry numba has (numpy's
arrays, random, linalg, typed dicts, jitclass...: some 250 modules) and refreshes the
typing context. That is what a *compilation* needs; loading machine code already
compiled needs only numba's runtime (NRT) for the arrays the code allocates. Measured on
the log scanner (bench/logs.py): 0.35 s of a 0.43 s load, on a command that counts a
million lines in about as much.

Strategy: :func:`quick_cache_loads` replaces, for the duration of a ``with`` block, numba's
``Cache.load_overload`` by one that initialises the runtime and loads, without the
refresh. A cache miss is unaffected: numba's compiler refreshes both contexts itself
before it compiles (``CompilerBase.__init__``), and every load outside the block takes
numba's own path. Should numba's internals not be the ones this was written against (a
name missing), the block changes nothing and loads take numba's own path: slower, never
wrong. Import this module only once numba's cache folder is chosen
(:func:`jit.use_compiled_cache`).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

from numba.core import caching

_runtime: Any
try:
    from numba.core.runtime.nrt import rtsys as _runtime
except ImportError:  # another numba layout: loads keep numba's own path
    _runtime = None

_NUMBA_LOAD: Any = getattr(caching.Cache, "load_overload", None)
_LOCK = threading.Lock()


def _load_without_refresh(self: Any, sig: Any, target_context: Any) -> Any:
    """numba's ``Cache.load_overload`` less ``target_context.refresh()``: the runtime the
    loaded code allocates with is initialised, the registries a compiler needs are not."""
    _runtime.initialize(target_context)
    with self._guard_against_spurious_io_errors():
        return self._load_overload(sig, target_context)
    return None  # the guard swallowed an I/O error: a miss, and numba compiles


def _supported() -> bool:
    return (
        _runtime is not None
        and _NUMBA_LOAD is not None
        and hasattr(caching.Cache, "_load_overload")
        and hasattr(caching.Cache, "_guard_against_spurious_io_errors")
    )


@contextlib.contextmanager
def quick_cache_loads() -> Iterator[None]:
    """Within the block, numba loads cached machine code without refreshing its contexts
    first (see the module's strategy); compilations are unaffected."""
    if not _supported():
        yield
        return
    with _LOCK:
        caching.Cache.load_overload = _load_without_refresh  # type: ignore[method-assign]
        try:
            yield
        finally:
            caching.Cache.load_overload = _NUMBA_LOAD  # type: ignore[method-assign]
