"""Choosing numba's cache folder: every branch of the pure choice, numba's own defaults
as numba computes them, and the thin part against real folders (a folder under a plain
file stands for an unwritable one: root cannot create it either)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from jit import _cache as compiled_cache
from jit._cache import (
    EXPLICIT,
    IN_TREE,
    STATE,
    SYSTEMD,
    TEMPORARY,
    USER_WIDE,
    Choice,
    choose,
    numba_defaults,
    use_compiled_cache,
)

IN_TREE_DIR = Path("/pkg/__pycache__")
USER_DIR = Path("/home/u/.cache/numba")
STATE_DIR = Path("/var/lib/n/numba-cache")
DEFAULTS = (IN_TREE_DIR, USER_DIR)


def only(*writable: Path | str):
    allowed = {Path(path) for path in writable}
    return lambda path: path in allowed


@pytest.mark.parametrize(
    ("environ", "writable", "expected"),
    [
        # the operator's NUMBA_CACHE_DIR wins over everything, and numba reads it itself
        ({"NUMBA_CACHE_DIR": "/mine", "CACHE_DIRECTORY": "/var/cache/n"}, ["/mine", "/var/cache/n", IN_TREE_DIR],
         Choice(EXPLICIT, Path("/mine"))),
        # an unwritable one is passed over, and said so
        ({"NUMBA_CACHE_DIR": "/ro"}, [IN_TREE_DIR], Choice(IN_TREE, IN_TREE_DIR, replaced="/ro")),
        ({"NUMBA_CACHE_DIR": "/ro"}, [STATE_DIR], Choice(STATE, STATE_DIR, replaced="/ro")),
        # systemd's CacheDirectory= before numba's defaults; the first of several
        ({"CACHE_DIRECTORY": "/var/cache/n:/var/cache/other"}, ["/var/cache/n", IN_TREE_DIR],
         Choice(SYSTEMD, Path("/var/cache/n"))),
        ({"CACHE_DIRECTORY": "/ro"}, [USER_DIR], Choice(USER_WIDE, USER_DIR)),
        ({}, [IN_TREE_DIR, USER_DIR, STATE_DIR], Choice(IN_TREE, IN_TREE_DIR)),
        ({}, [USER_DIR, STATE_DIR], Choice(USER_WIDE, USER_DIR)),
        ({}, [STATE_DIR], Choice(STATE, STATE_DIR)),
        ({"NUMBA_CACHE_DIR": ""}, [], Choice(TEMPORARY, None)),  # empty is unset, as numba has it
    ],
)  # fmt: skip
def test_the_order_of_the_choice(environ, writable, expected) -> None:
    assert choose(environ, DEFAULTS, STATE_DIR, only(*writable)) == expected


def test_without_a_state_folder_the_last_resort_is_temporary() -> None:
    choice = choose({}, DEFAULTS, None, only())
    assert choice == Choice(TEMPORARY, None)
    assert choice.sets_variable


@pytest.mark.parametrize(
    ("source", "sets"),
    [(EXPLICIT, False), (IN_TREE, False), (USER_WIDE, False), (SYSTEMD, True), (STATE, True), (TEMPORARY, True)],
)
def test_numba_is_told_only_of_folders_it_would_not_find_itself(source, sets) -> None:
    assert Choice(source, None).sets_variable is sets


@pytest.mark.parametrize(
    ("environ", "user_wide"),
    [
        ({"HOME": "/home/u"}, "/home/u/.cache/numba"),
        ({"HOME": "/home/u", "XDG_CACHE_HOME": "/xdg"}, "/xdg/numba"),
        ({}, "/account/.cache/numba"),  # no HOME: the account's home, as expanduser has it
    ],
)
def test_numba_defaults(environ, user_wide) -> None:
    assert numba_defaults(Path("/pkg"), environ, "/account") == (Path("/pkg/__pycache__"), Path(user_wide))


@pytest.mark.parametrize("xdg", [None, "xdg-cache"])
def test_numba_defaults_are_where_numba_itself_looks(xdg, tmp_path, monkeypatch) -> None:
    """Against numba's own locators, so a numba that moves its defaults fails here."""
    from numba.core import caching  # noqa: PLC0415 - numba only for this comparison

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    if xdg:
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / xdg))
    else:
        monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    source = str(Path(caching.__file__))
    function = caching.InTreeCacheLocator.__init__  # any function of a real file will do
    in_tree, user_wide = numba_defaults(Path(source).parent, os.environ, "/unused")
    assert Path(caching.InTreeCacheLocator(function, source).get_cache_path()) == in_tree
    assert Path(caching.UserWideCacheLocator(function, source).get_cache_path()).parent == user_wide


def test_a_writable_checkout_is_left_to_numba(tmp_path) -> None:
    environ = {"HOME": str(tmp_path / "home")}
    cache = use_compiled_cache(tmp_path / "pkg", tmp_path / "state", environ)
    assert (cache.source, cache.path, cache.warnings) == (IN_TREE, tmp_path / "pkg" / "__pycache__", ())
    assert "NUMBA_CACHE_DIR" not in environ
    assert not (tmp_path / "state").exists()  # nothing made where it is not needed


def unwritable(tmp_path: Path) -> Path:
    """A folder no one can create, root included: its parent is a plain file."""
    blocker = tmp_path / "a-file"
    blocker.touch()
    return blocker / "folder"


def test_a_read_only_install_caches_under_the_state_folder(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    environ = {"HOME": str(unwritable(tmp_path))}
    cache = use_compiled_cache(unwritable(tmp_path), "state", environ)  # relative: to the working folder
    assert (cache.source, cache.path, cache.warnings) == (STATE, tmp_path / "state" / "numba-cache", ())
    assert environ["NUMBA_CACHE_DIR"] == str(tmp_path / "state" / "numba-cache")
    assert cache.path.is_dir()  # type: ignore[union-attr]


def test_cache_directory_from_systemd(tmp_path) -> None:
    environ = {"CACHE_DIRECTORY": str(tmp_path / "cache")}
    cache = use_compiled_cache(tmp_path / "pkg", None, environ)
    assert (cache.source, environ["NUMBA_CACHE_DIR"], cache.warnings) == (SYSTEMD, str(tmp_path / "cache"), ())


def test_the_temporary_folder_warns_once_and_goes_at_exit(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(compiled_cache.tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    registered = []
    monkeypatch.setattr(compiled_cache.atexit, "register", lambda *call: registered.append(call))
    environ = {"HOME": str(unwritable(tmp_path)), "NUMBA_CACHE_DIR": str(unwritable(tmp_path))}
    cache = use_compiled_cache(unwritable(tmp_path), unwritable(tmp_path), environ)
    assert cache.source == TEMPORARY
    assert cache.path is not None
    assert cache.path.parent == tmp_path / "tmp"
    assert environ["NUMBA_CACHE_DIR"] == str(cache.path)
    replaced, temporary = cache.warnings
    assert "is not writable" in replaced
    assert "compiled again at every start" in temporary
    assert "CacheDirectory=" in temporary
    [(remove, path, owner)] = registered
    remove(path, owner + 1)  # a forked child's exit leaves it
    assert path.is_dir()
    remove(path, owner)
    assert not path.exists()


def test_with_nothing_writable_at_all_it_still_does_not_raise(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(compiled_cache.tempfile, "tempdir", str(unwritable(tmp_path)))
    environ = {"HOME": str(unwritable(tmp_path))}
    cache = use_compiled_cache(unwritable(tmp_path), None, environ)
    assert (cache.source, cache.path) == (TEMPORARY, None)
    assert "not even a temporary one" in cache.warnings[0]
    assert "NUMBA_CACHE_DIR" not in environ
