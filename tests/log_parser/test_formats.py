"""Every format with lines written from its documentation, malformed ones included, and
fuzzing: no input raises anything but ParseError."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from log_parser.core import ParseError, Request, Tally
from log_parser.core.formats import (
    PARSERS,
    CloudFrontParser,
    CombinedParser,
    FastlyParser,
    JsonLinesParser,
    detect_format,
)

T = int(dt.datetime(2024, 5, 1, 12, 0, 7, tzinfo=dt.UTC).timestamp())

COMBINED = [
    '203.0.113.9 - - [01/May/2024:12:00:07 +0000] "GET /lodash/-/lodash-4.17.21.tgz HTTP/1.1" 200 318961 "-" "npm/10.5.0 node/v20.12.0 linux x64"',
    '203.0.113.9 - - [01/May/2024:14:00:07 +0200] "GET /lodash HTTP/1.1" 200 12034 "-" "npm/10.5.0"',
    '198.51.100.2 - alice [01/May/2024:12:00:07 +0000] "HEAD /lodash/-/lodash-4.17.21.tgz HTTP/1.1" 200 0 "-" "curl/8"',
    '198.51.100.2 - - [01/May/2024:12:00:07 +0000] "GET /lodash/-/lodash-4.17.21.tgz HTTP/2.0" 304 - "-" "npm/9"',
    '198.51.100.2 - - [01/May/2024:12:00:07 +0000] "-" 400 0 "-" "-"',
    '198.51.100.2 - - [01/May/2024:12:00:07 +0000] "GET /@types/node/-/node-20.11.5.tgz HTTP/1.1" 200 4096',  # common
    '198.51.100.2 - - [01/May/2024:12:00:07 +0000] "GET /x HTTP/1.1" 200 5 "-" "ua" 0.002 HIT',  # nginx extras
]


def test_combined_and_common_lines() -> None:
    parser = CombinedParser()
    requests = [parser.parse(line) for line in COMBINED]
    assert requests[0] == Request(T, "GET", "/lodash/-/lodash-4.17.21.tgz", 200, 318961)
    assert requests[1].time == T  # 14:00 at +0200 is 12:00 UTC
    assert (requests[2].method, requests[3].status, requests[3].size) == ("HEAD", 304, 0)
    assert (requests[4].method, requests[4].path, requests[4].status) == ("-", "", 400)
    assert requests[5].path == "/@types/node/-/node-20.11.5.tgz"
    assert requests[6].size == 5


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("not a log line at all", "not a combined or common log line"),
        ('1.2.3.4 - - [01/May/2024:12:00:07 +0000] "GET / HTTP/1.1" abc 5', "not a combined or common log line"),
        ('1.2.3.4 - - [31/Foo/2024:12:00:07 +0000] "GET / HTTP/1.1" 200 5', "bad time"),
        ('1.2.3.4 - - [01/May/2024:12:00 +0000] "GET / HTTP/1.1" 200 5', "bad time"),
    ],
)
def test_combined_rejections(line: str, reason: str) -> None:
    with pytest.raises(ParseError, match=reason):
        CombinedParser().parse(line)


def test_fastly_syslog_lines_with_combined_or_json_messages() -> None:
    parser = FastlyParser()
    iso = parser.parse("<134>2024-05-01T12:00:07Z cache-ams21 registry[4567]: " + COMBINED[0])
    bsd = parser.parse("<134>May  1 12:00:07 cache-ams21 registry: " + COMBINED[0])
    rfc_5424 = parser.parse('<134>1 2024-05-01T12:00:07Z AMS LogTest - - [token@41058 tag="fastly"] ' + COMBINED[0])
    assert iso == bsd == rfc_5424 == CombinedParser().parse(COMBINED[0])
    json_object = (
        '{"time":"2024-05-01T12:00:07Z","method":"GET",'
        '"url":"/lodash/-/lodash-4.17.21.tgz","status":200,"bytes":318961,"cache":"HIT"}'
    )
    json_line = parser.parse("<134>2024-05-01T12:00:07Z cache-ams21 registry[4567]: " + json_object)
    json_5424 = parser.parse("<134>1 2024-05-01T12:00:07.5+00:00 cache-ams21 registry 4567 - - \ufeff" + json_object)
    assert json_line == json_5424 == Request(T, "GET", "/lodash/-/lodash-4.17.21.tgz", 200, 318961, cache_hit=True)
    with pytest.raises(ParseError, match="no syslog prefix"):
        parser.parse(COMBINED[0])


CLOUDFRONT = """#Version: 1.0
#Fields: date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status cs(Referer) cs(User-Agent) cs-uri-query cs(Cookie) x-edge-result-type x-edge-request-id x-host-header cs-protocol cs-bytes time-taken
2024-05-01\t12:00:07\tAMS50-C1\t318961\t203.0.113.9\tGET\td111111abcdef8.cloudfront.net\t/lodash/-/lodash-4.17.21.tgz\t200\t-\tnpm/10.5.0%20node/v20\t-\t-\tHit\tabc==\tregistry.example\thttps\t180\t0.010
2024-05-01\t12:00:07\tAMS50-C1\t4096\t203.0.113.9\tGET\td111111abcdef8.cloudfront.net\t/@types%252Fnode/-/node-20.11.5.tgz\t200\t-\tnpm\tv=1\t-\tMiss\tdef==\tregistry.example\thttps\t180\t0.020
2024-05-01\t12:00:07\tAMS50-C1\t4096
"""


def test_cloudfront_follows_its_fields_header() -> None:
    parser = CloudFrontParser()
    lines = CLOUDFRONT.splitlines()
    assert parser.parse(lines[0]) is None
    assert parser.parse(lines[1]) is None
    first, second = parser.parse(lines[2]), parser.parse(lines[3])
    assert first == Request(T, "GET", "/lodash/-/lodash-4.17.21.tgz", 200, 318961, cache_hit=True)
    assert (second.path, second.cache_hit) == ("/@types%2Fnode/-/node-20.11.5.tgz?v=1", False)
    with pytest.raises(ParseError, match="fewer fields"):
        parser.parse(lines[4])
    reordered = CloudFrontParser()
    reordered.parse("#Fields: cs-method cs-uri-stem sc-status date time")
    assert reordered.parse("GET\t/a/-/a-1.0.0.tgz\t200\t2024-05-01\t12:00:07").path == "/a/-/a-1.0.0.tgz"
    with pytest.raises(ParseError, match="#Fields lacks sc-status"):
        CloudFrontParser().parse("#Fields: date time cs-method cs-uri-stem")


def test_json_lines_with_a_mapping() -> None:
    parser = JsonLinesParser(
        {
            "time": "ts",
            "path": "request.url",
            "method": "request.method",
            "status": "response.status",
            "size": "response.bytes",
            "cache": "fastly.state",
        }
    )
    line = (
        '{"ts": 1714564807123, "request": {"url": "/lodash/-/lodash-4.17.21.tgz", "method": "get"},'
        ' "response": {"status": "200", "bytes": 318961}, "fastly": {"state": "MISS"}}'
    )
    assert parser.parse(line) == Request(T, "GET", "/lodash/-/lodash-4.17.21.tgz", 200, 318961, cache_hit=False)
    for bad, reason in [
        ("{", "invalid JSON"),
        ("[1]", "not a JSON object"),
        ('{"ts": 1}', "missing"),
        ('{"ts": true, "request": {"url": "/", "method": "GET"}, "response": {"status": 200}}', "bad time"),
    ]:
        with pytest.raises(ParseError, match=reason):
            parser.parse(bad)


def test_auto_detection() -> None:
    assert detect_format(COMBINED) == "combined"
    assert detect_format(CLOUDFRONT.splitlines()) == "cloudfront"
    assert detect_format(["<134>2024-05-01T12:00:07Z cache-ams21 registry[1]: " + COMBINED[0]] * 3) == "fastly"
    assert detect_format(["<134>1 2024-05-01T12:00:07Z cache-ams21 registry - - - " + COMBINED[0]] * 3) == "fastly"
    assert detect_format(['{"time": 1714564807, "method": "GET", "url": "/", "status": 200}']) == "json"
    assert detect_format(["garbage", "more garbage"]) is None


def test_the_counting_rule_and_the_operational_figures() -> None:
    tally = Tally()
    parser = CombinedParser()
    for line in COMBINED:
        tally.add(parser.parse(line))
    minute = T - T % 60
    assert tally.downloads == {("lodash", "4.17.21", minute): 1, ("@types/node", "20.11.5", minute): 1}
    assert tally.requests == 7
    assert tally.by_status_class == {"2xx": 5, "3xx": 1, "4xx": 1}
    assert tally.bytes_served == 318961 + 12034 + 4096 + 5
    assert tally.cache_hit_ratio is None


@pytest.mark.parametrize("name", sorted(PARSERS))
@given(st.text(max_size=300))
def test_arbitrary_text_parses_or_raises_parse_error(name: str, line: str) -> None:
    parser = PARSERS[name]()
    try:
        request = parser.parse(line)
    except ParseError:
        return
    assert request is None or isinstance(request, Request)


combined_like = st.builds(
    lambda ip, day, method, path, status, size: (
        f'{ip} - - [{day:02d}/May/2024:12:00:07 +0000] "{method} {path} HTTP/1.1" {status} {size}'
    ),
    st.from_regex(r"[0-9.]{7,15}", fullmatch=True),
    st.integers(1, 31),
    st.sampled_from(["GET", "HEAD", "POST"]),
    st.from_regex(r"/[!-~]{0,40}", fullmatch=True).filter(lambda p: '"' not in p and " " not in p),
    st.integers(100, 599),
    st.integers(0, 10**9),
)


@given(combined_like)
def test_valid_combined_lines_parse_to_their_fields(line: str) -> None:
    request = CombinedParser().parse(line)
    assert request is not None
    assert line.split('"')[1].split(" ")[1] == request.path
