"""The compiled tarball rule answers as the Python rule does, for any path: tarballs and
near misses spelled every way a log spells them, percent-encoded piece by piece, behind
absolute URLs, with query strings, and arbitrary text."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from log_parser.core import parse_tarball_path
from log_parser.core._tarball_bytes import judge_paths, parse_tarball_bytes

from .test_tarball import bad_versions, names, versions

#: Pieces a path is made of, well formed or not: separators, encodings (valid, partial,
#: of non-ASCII bytes), characters npm's name rule and semver allow or refuse.
PIECES = [
    "/", "/", "/-/", "-", ".", "@", "%", "%2f", "%2F", "%40", "%2E", "%2e", "%2B", "%2D", "%74%67%7A", "%4", "%ZZ",
    "%%", "%25", "%C3%A9", "%FF", "%00", "%2F-%2F", ".tgz", ".tgz", "tgz", ".tar.gz", "0", "1", "01", "00", "1.0.0",
    "4.17.21", "0.0.0-0", "1.0.0-01", "1.0.0-a..b", "1.0.0+b.1", "pkg", "pkg", "Pkg", "a", "_", "~", "!", "(", ")",
    "*", "'", "+", "?", "#", "?x=1", "://", "https://h", "http://h:80", "x:/", "é", " ", "\t", "\x00", "scope", "@s",
]  # fmt: skip


def percent_encoded(text: str, draw: st.DrawFn) -> str:
    """Some characters of ``text`` as ``%XX`` (upper or lower case hex), as clients do."""
    spelled = []
    for character in text:
        if character.isascii() and draw(st.integers(0, 5)) == 0:
            spelled.append(f"%{ord(character):02{draw(st.sampled_from('xX'))}}")
        else:
            spelled.append(character)
    return "".join(spelled)


#: Names npm's rule may refuse: a leading ``.`` or ``_``, capitals, its punctuation, others.
odd_names = st.builds(
    lambda first, rest, last: first + rest + last,
    st.sampled_from([*"._~!'()*-AZ09@%:+ ", ""]),
    names,
    st.sampled_from([*"._~!'()*-AZ@%:+ ", "", "", ""]),
)


@st.composite
def tarball_like(draw: st.DrawFn) -> str:
    """A tarball path, or one a step away from being one."""
    name = draw(names | odd_names)
    scope = draw(st.none() | names | odd_names)
    version = draw(versions | bad_versions)
    file_name = draw(st.sampled_from([name, name, name, name + "x", "other"]))
    package = f"@{scope}/{name}" if scope else name
    path = f"/{package}/-/{file_name}-{version}{draw(st.sampled_from(['.tgz', '.tgz', '.tgz', '.tg', '.tgz.sha1']))}"
    if draw(st.booleans()):
        path = percent_encoded(path, draw)
    prefix = draw(st.sampled_from(["", "", "", "https://registry.example", "http://10.0.0.1:8080", "x://h/", "1a://b"]))
    suffix = draw(st.sampled_from(["", "", "", "?cache=1", "#top", "?a=1#b", "%3Fx"]))
    return prefix + path + suffix


pieced = st.lists(st.sampled_from(PIECES), max_size=14).map("".join)


@given(st.one_of(tarball_like(), pieced, st.text(max_size=60)))
@example("/%40babel%2Fcore/-/core-7.24.0.tgz")
@example("/pkg/-/pkg-1.0.0-0a.1.tgz")
@example("/@s/p/-/p-1.0.0.tgz")
@example("https://hôst/pkg/-/pkg-1.0.0.tgz")
@example("/p%C3%A9/-/p%C3%A9-1.0.0.tgz")
@example("/%%41/-/%%41-1.0.0.tgz")
def test_the_compiled_rule_answers_as_the_python_rule(path: str) -> None:
    assert parse_tarball_bytes(path.encode()) == parse_tarball_path(path)


@settings(max_examples=300)
@given(name=odd_names, scope=st.none() | names | odd_names, version=versions, encode=st.booleans())
@example(name="_pkg", scope=None, version="1.0.0", encode=False)
@example(name=".pkg", scope=None, version="1.0.0", encode=False)
@example(name="pkg", scope="_s", version="1.0.0", encode=True)
@example(name="~p(k)g*!'.-", scope="-s~", version="1.0.0", encode=False)
def test_names_decide_as_in_the_python_rule(name: str, scope: str | None, version: str, encode: bool) -> None:
    """A well-formed path around a name npm's rule may refuse: only the name decides."""
    package = f"@{scope}/{name}" if scope is not None else name
    path = f"/{package}/-/{name}-{version}.tgz"
    if encode:
        path = path.replace("%", "%25").replace("@", "%40")
    assert parse_tarball_bytes(path.encode()) == parse_tarball_path(path)


@given(st.lists(st.one_of(tarball_like(), pieced), max_size=20))
def test_paths_judged_together_answer_as_each_alone(paths: list[str]) -> None:
    """One call judges many paths, side by side in one buffer: each answer is its own."""
    data = "".join(paths).encode()
    starts = [0]
    for path in paths:
        starts.append(starts[-1] + len(path.encode()))
    import numpy as np  # noqa: PLC0415 - numpy is the compiled rule's, not the Python rule's

    spans = np.array(list(itertools.pairwise(starts)), dtype=np.int64).reshape(-1, 2)
    text, parts = judge_paths(np.frombuffer(data, dtype=np.uint8), spans)
    answers = [None if start < 0 else (text[start:end], text[version:last]) for start, end, version, last in parts]
    assert answers == [parse_tarball_path(path) for path in paths]


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/@babel%2fcore/-/core-7.24.0.tgz", ("@babel/core", "7.24.0")),
        ("/express/-/express-4.18.2%2E%74%67%7A", ("express", "4.18.2")),
        ("http://10.0.0.1:8080/@babel/core/-/core-7.24.0.tgz?x=1", ("@babel/core", "7.24.0")),
        ("/pkg/-/pkg-1.0.0-01.tgz", None),
        ("/pkg/-/pkg-1.0.0-a..b.tgz", None),
        ("/@a/" + "b" * 212 + "/-/" + "b" * 212 + "-1.0.0.tgz", None),  # past 214 characters with the scope
        ("/@a/" + "b" * 211 + "/-/" + "b" * 211 + "-1.0.0.tgz", ("@a/" + "b" * 211, "1.0.0")),
    ],
)
def test_the_compiled_rule_on_named_paths(path: str, expected: tuple[str, str] | None) -> None:
    assert parse_tarball_bytes(path.encode()) == expected
