"""Tarball paths: npm's naming rules, encodings, and never splitting on the last dash."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from log_parser.tarball import parse_tarball_path


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/lodash/-/lodash-4.17.21.tgz", ("lodash", "4.17.21")),
        ("/is-number/-/is-number-7.0.0.tgz", ("is-number", "7.0.0")),
        ("/pkg/-/pkg-1.0.0-beta.1.tgz", ("pkg", "1.0.0-beta.1")),
        ("/pkg/-/pkg-1.0.0-rc.1+build.5.tgz", ("pkg", "1.0.0-rc.1+build.5")),
        ("/pkg/-/pkg-1.0.0%2Bbuild.5.tgz", ("pkg", "1.0.0+build.5")),
        ("/socket.io/-/socket.io-4.7.2.tgz", ("socket.io", "4.7.2")),
        ("/@babel/core/-/core-7.24.0.tgz", ("@babel/core", "7.24.0")),
        ("/@babel%2fcore/-/core-7.24.0.tgz", ("@babel/core", "7.24.0")),
        ("/%40babel%2Fcore/-/core-7.24.0.tgz", ("@babel/core", "7.24.0")),
        ("/@types/node/-/node-20.11.5.tgz?cache=no", ("@types/node", "20.11.5")),
        ("/JSONStream/-/JSONStream-1.3.5.tgz", ("JSONStream", "1.3.5")),
        ("/a-b-c/-/a-b-c-1.2.3-alpha-beta.tgz", ("a-b-c", "1.2.3-alpha-beta")),
    ],
)
def test_tarball_paths(path: str, expected: tuple[str, str]) -> None:
    assert parse_tarball_path(path) == expected


@pytest.mark.parametrize(
    "path",
    [
        "/lodash",  # metadata, not a tarball
        "/lodash/-/lodash-4.17.21.tgz.sha1",
        "/lodash/-/underscore-1.0.0.tgz",  # the file must be the package's own
        "/is-number/-/is-7.0.0.tgz",
        "/pkg/-/pkg-latest.tgz",  # not a version
        "/pkg/-/pkg-1.0.tgz",
        "/pkg/-/pkg-01.0.0.tgz",
        "/@scope/pkg/-/scope-pkg-1.0.0.tgz",
        "/@/pkg/-/pkg-1.0.0.tgz",
        "/pkg/pkg-1.0.0.tgz",
        "//pkg/-/pkg-1.0.0.tgz",
        "/a/b/c/-/c-1.0.0.tgz",
        "/pkg/-/pkg-1.0.0.tar.gz",
        "",
    ],
)
def test_not_tarballs(path: str) -> None:
    assert parse_tarball_path(path) is None


names = st.from_regex(r"[a-z0-9][a-z0-9._-]{0,20}", fullmatch=True)
versions = st.from_regex(
    r"(0|[1-9][0-9]{0,3})\.(0|[1-9][0-9]{0,3})\.(0|[1-9][0-9]{0,3})(-[0-9a-z.-]{1,8})?", fullmatch=True
)


@given(name=names, version=versions, scope=st.none() | names, encode=st.booleans())
def test_any_valid_name_and_version_come_back(name, version, scope, encode) -> None:
    prefix = f"/@{scope}/{name}" if scope else f"/{name}"
    if encode and scope:
        prefix = f"/%40{scope}%2F{name}"
    assert parse_tarball_path(f"{prefix}/-/{name}-{version}.tgz") == (f"@{scope}/{name}" if scope else name, version)


@given(st.text(max_size=80))
def test_any_text_is_a_tarball_or_none_never_an_error(path: str) -> None:
    result = parse_tarball_path(path)
    assert result is None or (isinstance(result[0], str) and isinstance(result[1], str))
