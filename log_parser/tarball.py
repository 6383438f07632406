"""Package name and version from a registry tarball path. Sans-I/O.

``/pkg/-/pkg-1.2.3.tgz`` and ``/@scope/pkg/-/pkg-1.2.3.tgz``, percent-encoded or not
(``%40``, ``%2f``, ``%2B``), query string ignored. The name comes from the path, and
the file name must be that name (unscoped), a dash and a semver version: the version is
what follows the name, never what follows the last dash, so ``is-number-7.0.0.tgz`` is
``is-number`` 7.0.0 and ``pkg-1.0.0-beta.1.tgz`` is ``pkg`` 1.0.0-beta.1.
"""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import unquote

SEMVER = re.compile(r"(?:0|[1-9][0-9]*)\.(?:0|[1-9][0-9]*)\.(?:0|[1-9][0-9]*)(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?")
#: npm's rules for a name part (scope or name), with the uppercase of legacy packages.
NAME = re.compile(r"[A-Za-z0-9._~-][A-Za-z0-9._~!'()*-]*")
MAX_NAME = 214


@lru_cache(maxsize=100_000)
def parse_tarball_path(path: str) -> tuple[str, str] | None:
    """``(package, version)`` for a tarball path, or None when it is not one."""
    if "?" in path or "#" in path:
        path = path.split("?", 1)[0].split("#", 1)[0]
    if not path.endswith(".tgz"):
        return None
    parts = (unquote(path) if "%" in path else path).split("/")
    if len(parts) == 4 and parts[0] == "" and parts[2] == "-":
        scope, name, file = None, parts[1], parts[3]
    elif len(parts) == 5 and parts[0] == "" and parts[1].startswith("@") and parts[3] == "-":
        scope, name, file = parts[1][1:], parts[2], parts[4]
    else:
        return None
    if not NAME.fullmatch(name) or (scope is not None and not NAME.fullmatch(scope)):
        return None
    prefix = name + "-"
    if not file.startswith(prefix):
        return None
    version = file[len(prefix) : -len(".tgz")]
    if not SEMVER.fullmatch(version):
        return None
    package = f"@{scope}/{name}" if scope is not None else name
    if len(package) > MAX_NAME:
        return None
    return package, version
