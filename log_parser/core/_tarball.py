"""Package name and version from a registry tarball path. Sans-I/O.

``/pkg/-/pkg-1.2.3.tgz`` and ``/@scope/pkg/-/pkg-1.2.3.tgz``, percent-encoded or not
(``%40``, ``%2f``, ``%2B``, ``%2Etgz``), query string ignored, and the path of an absolute
URL (``https://host/pkg/-/pkg-1.2.3.tgz``, as a JSON log or a proxy's request line may
carry it). The path is decoded first and judged after. The name comes from the path, and
the file name must be that name (unscoped), a dash and a semver 2.0.0 version: the version
is what follows the name, never what follows the last dash, so ``is-number-7.0.0.tgz`` is
``is-number`` 7.0.0 and ``pkg-1.0.0-beta.1.tgz`` is ``pkg`` 1.0.0-beta.1.

Names follow npm's validate-npm-package-name, with one deliberate leniency: capitals are
allowed, as the registry still serves old packages that have them (``JSONStream``). No
leading ``.`` or ``_``, URL-safe characters only, at most 214 characters with the scope.
"""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import unquote

_NUMBER = r"(?:0|[1-9][0-9]*)"
_PRERELEASE_ID = r"(?:0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)"  # no leading zeros in numbers
_BUILD_ID = r"[0-9A-Za-z-]+"
#: semver 2.0.0's grammar exactly: no empty identifiers, no leading zeros.
SEMVER = re.compile(
    rf"{_NUMBER}\.{_NUMBER}\.{_NUMBER}"
    rf"(?:-{_PRERELEASE_ID}(?:\.{_PRERELEASE_ID})*)?"
    rf"(?:\+{_BUILD_ID}(?:\.{_BUILD_ID})*)?"
)
#: npm's rules for a name part (scope or name), with the uppercase of legacy packages.
NAME = re.compile(r"[A-Za-z0-9~-][A-Za-z0-9._~!'()*-]*")
MAX_NAME = 214
#: ``scheme://authority`` before the path of an absolute URL.
ABSOLUTE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*")


@lru_cache(maxsize=100_000)
def parse_tarball_path(path: str) -> tuple[str, str] | None:
    """``(package, version)`` for a tarball path, or None when it is not one."""
    if "?" in path or "#" in path:
        path = path.split("?", 1)[0].split("#", 1)[0]
    if "://" in path:
        absolute = ABSOLUTE.match(path)
        if absolute is not None:
            path = path[absolute.end() :]
    if "%" in path:
        path = unquote(path)
    if not path.endswith(".tgz"):
        return None
    parts = path.split("/")
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
