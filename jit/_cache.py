"""Where numba keeps compiled machine code: a writable folder wherever numbat runs.

Why: ``njit(cache=True)`` needs a writable cache folder as soon as a compiled function is
*defined*, at import, not only when it compiles; with none numba raises ``RuntimeError:
cannot cache function ...: no locator available``. Under the systemd units in ``deploy/``
(``DynamicUser=``, ``ProtectSystem=strict``) the installed package is read-only and there
is no writable home, so numbatd with an InfluxDB sink (``collector/transcoder.py``) and
every numbat-logs command (``log_parser/scanner.py``) would crash, and restart forever.

numba reads ``NUMBA_CACHE_DIR`` once, when it is first imported, so each program calls
:func:`use_compiled_cache` before anything imports numba: numbatd in ``main()`` once its
configuration names ``state_dir`` (the transcoder is imported only when an InfluxDB sink
opens), numbat-logs in its scanner module just above the numba import. :func:`choose` is
pure (environment and candidate folders in, a :class:`Choice` out; writability is asked
of a callable), so every branch is unit-tested; :func:`use_compiled_cache` is the thin
part that probes real folders, makes a temporary one if it comes to that, and sets the
variable. The order:

1. ``NUMBA_CACHE_DIR`` from the environment, when writable: the operator's word wins.
   An unwritable one would be skipped by numba too; it is replaced, with a warning.
2. ``$CACHE_DIRECTORY``, set by systemd's ``CacheDirectory=``: the unit says where caches
   belong (``systemctl clean --what=cache`` clears it), so it is used even where numba's
   own locations would work.
3. numba's own locations, when writable: ``__pycache__`` beside the compiled module, then
   ``$XDG_CACHE_HOME/numba`` (``~/.cache/numba``). Nothing is set: a checkout keeps its
   cache in-tree, where ``run-tests`` warms it before any test starts a daemon.
4. ``numba-cache`` under the state folder the caller names (numbatd's ``state_dir``;
   systemd's ``$STATE_DIRECTORY`` for numbat-logs), which outlives restarts.
5. A new private temporary folder, removed at exit. The code then compiles at every start
   (seconds), so the result carries a warning, with the fix, for the caller to log once.

Steps 4 and 5 are taken only when numba's own locations are not writable, so nothing is
created in a state folder (or in the working directory, where numbatd's default
``state_dir`` is) of a process that would have cached fine without us.

It lives in ``emitter`` because the collector and log_parser may both import it and
neither may import the other (``DESIGN.md``, dependency direction); it uses only the
standard library and never imports numba, so the emitter's own footprint is unchanged.
"""

from __future__ import annotations

import atexit
import os
import pwd
import shutil
import tempfile
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path

#: The folder under a state directory that holds numba's cache (step 4).
STATE_SUBFOLDER = "numba-cache"

#: Where the folder came from: the environment or numba's defaults (nothing to set),
#: or one numbat chose (``NUMBA_CACHE_DIR`` is set to it).
EXPLICIT, SYSTEMD, IN_TREE, USER_WIDE, STATE, TEMPORARY = (
    "NUMBA_CACHE_DIR",
    "CACHE_DIRECTORY",
    "in-tree",
    "user-wide",
    "state",
    "temporary",
)
_NUMBA_DEFAULTS = (IN_TREE, USER_WIDE)


@dataclass(frozen=True)
class Choice:
    """The cache folder for numba, and why that one."""

    source: str  #: one of EXPLICIT, SYSTEMD, IN_TREE, USER_WIDE, STATE, TEMPORARY
    path: Path | None  #: None for TEMPORARY: a folder still to be made
    replaced: str | None = None  #: an unwritable NUMBA_CACHE_DIR passed over

    @property
    def sets_variable(self) -> bool:
        """Whether numba must be told (``NUMBA_CACHE_DIR``): it would not look there itself."""
        return self.source not in (EXPLICIT, *_NUMBA_DEFAULTS)


@dataclass(frozen=True)
class CompiledCache:
    """What :func:`use_compiled_cache` did: the folder numba will use, and what to log."""

    source: str
    path: Path | None  #: None: nothing writable at all (then numba refuses the compiled modules)
    warnings: tuple[str, ...]  #: for the caller to log once, each with ``path``


def numba_defaults(module_dir: Path, environ: Mapping[str, str], account_home: str) -> tuple[Path, Path]:
    """Where numba itself caches a module of ``module_dir`` (``numba.core.caching``):
    ``__pycache__`` beside it, then the user-wide folder of numba's ``appdirs``, from
    ``XDG_CACHE_HOME`` or the home directory (``HOME``, else the account's)."""
    home = environ.get("HOME", account_home)
    user_cache = Path(environ["XDG_CACHE_HOME"]) if "XDG_CACHE_HOME" in environ else Path(home or "/") / ".cache"
    return module_dir / "__pycache__", user_cache / "numba"


def choose(
    environ: Mapping[str, str],
    defaults: tuple[Path, Path],
    state_folder: Path | None,
    writable: Callable[[Path], bool],
) -> Choice:
    """The first usable folder of the order in the module's docstring. ``defaults`` are
    numba's own (:func:`numba_defaults`); ``state_folder`` the caller's step 4."""
    replaced = None
    explicit = environ.get("NUMBA_CACHE_DIR", "")
    if explicit:
        if writable(Path(explicit)):
            return Choice(EXPLICIT, Path(explicit))
        replaced = explicit
    # systemd joins several CacheDirectory= entries with colons: the first is ours
    systemd = environ.get("CACHE_DIRECTORY", "").split(":")[0]
    if systemd and writable(Path(systemd)):
        return Choice(SYSTEMD, Path(systemd), replaced)
    for source, path in zip(_NUMBA_DEFAULTS, defaults, strict=True):
        if writable(path):
            return Choice(source, path, replaced)
    if state_folder is not None and writable(state_folder):
        return Choice(STATE, state_folder, replaced)
    return Choice(TEMPORARY, None, replaced)


def writable(path: Path) -> bool:
    """numba's own test (``_CacheLocator.ensure_cache_path``): make the folder if need be
    and create a file in it. Permission bits alone would not do: root ignores them, and a
    read-only mount refuses root too."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=path).close()
    except OSError:
        return False
    return True


def use_compiled_cache(
    module_dir: Path,
    state_dir: str | Path | None,
    environ: MutableMapping[str, str] = os.environ,
) -> CompiledCache:
    """Choose numba's cache folder for the compiled modules in ``module_dir`` and set
    ``NUMBA_CACHE_DIR`` when numba would not find it itself. Call it before numba is
    imported. ``state_dir`` (relative to the working directory, if relative) holds the
    step-4 folder. Never raises: the last resort is a temporary folder, and past it a
    warning (numba then fails where the compiled module is imported, as it would have)."""
    state_folder = Path(state_dir).absolute() / STATE_SUBFOLDER if state_dir else None
    choice = choose(environ, numba_defaults(module_dir, environ, _account_home()), state_folder, writable)
    warnings = []
    if choice.replaced is not None:
        warnings.append(f"NUMBA_CACHE_DIR={choice.replaced} is not writable: compiled code is cached elsewhere")
    path = choice.path
    if path is None:
        try:
            path = Path(tempfile.mkdtemp(prefix="numba-cache-"))
        except OSError as exc:  # not even TMPDIR: numba will refuse to load the compiled modules
            warnings.append(f"no writable folder for compiled code (numba's cache), not even a temporary one: {exc}")
            return CompiledCache(choice.source, None, tuple(warnings))
        atexit.register(_remove, path, os.getpid())
        warnings.append(
            "no writable folder for compiled code (numba's cache): using a temporary one, so compiled "
            "code is compiled again at every start (seconds); to keep it, give the process a cache "
            "folder: CacheDirectory= in its systemd unit, NUMBA_CACHE_DIR, or a writable state folder"
        )
    if choice.sets_variable:
        environ["NUMBA_CACHE_DIR"] = str(path)
    return CompiledCache(choice.source, path, tuple(warnings))


def _account_home() -> str:
    """What ``~`` means without ``HOME`` (as ``os.path.expanduser`` does it)."""
    try:
        return pwd.getpwuid(os.getuid()).pw_dir
    except KeyError:  # an id without an account (DynamicUser without nss-systemd)
        return "/"


def _remove(path: Path, owner: int) -> None:
    """Remove the temporary folder at exit, in the process that made it only (not in a
    forked child that inherited the handler)."""
    if os.getpid() == owner:
        shutil.rmtree(path, ignore_errors=True)
