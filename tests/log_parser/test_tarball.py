"""Tarball paths: npm's naming rules, encodings, and never splitting on the last dash."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from log_parser.core import parse_tarball_path


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
        ("/express/-/express-4.18.2%2Etgz", ("express", "4.18.2")),  # decoded, then judged
        ("/express/-/express-4.18.2%2E%74%67%7A", ("express", "4.18.2")),
        ("https://static.example/express/-/express-4.18.2.tgz", ("express", "4.18.2")),  # an absolute URL's path
        ("http://10.0.0.1:8080/@babel/core/-/core-7.24.0.tgz?x=1", ("@babel/core", "7.24.0")),
        ("/pkg/-/pkg-1.0.0-0a.1.tgz", ("pkg", "1.0.0-0a.1")),  # alphanumeric identifiers may start with 0
        ("/pkg/-/pkg-1.0.0+001.tgz", ("pkg", "1.0.0+001")),  # build identifiers may
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
        "/_pkg/-/_pkg-1.0.0.tgz",  # npm forbids a leading _ or .
        "/.pkg/-/.pkg-1.0.0.tgz",
        "/@_scope/pkg/-/pkg-1.0.0.tgz",
        "/pkg/-/pkg-1.0.0-01.tgz",  # numeric prerelease identifiers have no leading zeros
        "/pkg/-/pkg-1.0.0-a..b.tgz",  # nor empty identifiers
        "/pkg/-/pkg-1.0.0-.tgz",
        "/pkg/-/pkg-1.0.0+a..b.tgz",
        "/pkg/-/pkg-1.0.0-a_b.tgz",
        "/pkg%2F-%2Fpkg-1.0.0.tgz%3Fx",
        "",
    ],
)
def test_not_tarballs(path: str) -> None:
    assert parse_tarball_path(path) is None


names = st.from_regex(r"[a-z0-9-][a-z0-9._-]{0,20}", fullmatch=True)
number = r"(0|[1-9][0-9]{0,3})"
prerelease_id = r"(0|[1-9][0-9]{0,3}|[0-9]{0,2}[a-zA-Z-][0-9a-zA-Z-]{0,4})"
build_id = r"[0-9a-zA-Z-]{1,5}"
versions = st.from_regex(
    rf"{number}\.{number}\.{number}(-{prerelease_id}(\.{prerelease_id}){{0,2}})?(\+{build_id}(\.{build_id}){{0,2}})?",
    fullmatch=True,
)
#: What semver 2.0.0 refuses: a numeric identifier with a leading zero, an empty one.
bad_versions = st.one_of(
    st.builds(lambda v, z: f"{v}-0{z}", versions.filter(lambda v: "-" not in v and "+" not in v), st.integers(0, 99)),
    st.builds(lambda v: f"{v}-a..b", versions.filter(lambda v: "-" not in v and "+" not in v)),
    st.builds(lambda v: f"{v}.", versions),
)


@given(name=names, version=versions, scope=st.none() | names, encode=st.booleans())
def test_any_valid_name_and_version_come_back(name, version, scope, encode) -> None:
    prefix = f"/@{scope}/{name}" if scope else f"/{name}"
    if encode and scope:
        prefix = f"/%40{scope}%2F{name}"
    assert parse_tarball_path(f"{prefix}/-/{name}-{version}.tgz") == (f"@{scope}/{name}" if scope else name, version)


@given(name=names, version=bad_versions, encode=st.booleans())
def test_versions_that_are_not_semver_are_refused(name, version, encode) -> None:
    file = f"{name}-{version}.tgz"
    if encode:
        file = file.replace(".", "%2E")
    assert parse_tarball_path(f"/{name}/-/{file}") is None


@given(name=names, version=versions, host=st.from_regex(r"[a-z0-9.-]{1,20}(:[0-9]{1,5})?", fullmatch=True))
def test_an_absolute_url_is_read_as_its_path(name, version, host) -> None:
    assert parse_tarball_path(f"https://{host}/{name}/-/{name}-{version}%2Etgz") == (name, version)


@given(name=st.from_regex(r"[._][a-z0-9._-]{0,20}", fullmatch=True), version=versions)
def test_names_with_a_leading_dot_or_underscore_are_refused(name, version) -> None:
    assert parse_tarball_path(f"/{name}/-/{name}-{version}.tgz") is None


@given(st.text(max_size=80))
def test_any_text_is_a_tarball_or_none_never_an_error(path: str) -> None:
    result = parse_tarball_path(path)
    assert result is None or (isinstance(result[0], str) and isinstance(result[1], str))
