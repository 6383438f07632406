"""What numbatd and numbat-logs share of numba, and nothing else does: where its machine
code is cached, and the open-addressing tables both compiled modules (the InfluxDB sink's
transcoder, the CDN-log scanner) keep in numpy arrays.

Neither program may import the other (``DESIGN.md``), and the emitter must stay free of
numba for the services that install it alone, so this small package sits beside the
three, installed with either extra. This ``__init__`` and :mod:`._cache` use the standard
library only: a program chooses numba's cache folder (:func:`use_compiled_cache`) before
anything imports numba, which reads ``NUMBA_CACHE_DIR`` once, at its own import. Only
then does it import :mod:`jit.tables`, which imports numba.
"""

from __future__ import annotations

from ._cache import CompiledCache, use_compiled_cache

__all__ = ["CompiledCache", "use_compiled_cache"]
