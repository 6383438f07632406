"""Which body makes carbon drop the connection (collector/sinks/graphite/_suspects.py),
sans-I/O: the rules one by one, and a model of carbon that reads bodies in order and
drops the connection at a bad one, or now and then for no fault of the body (a restart),
through which every good body is confirmed and every bad one given up, in bounded steps."""

from __future__ import annotations

from collections import deque

from hypothesis import given
from hypothesis import strategies as st

from collector.sinks.graphite._suspects import Suspects


def test_a_break_catching_several_bodies_blames_none_and_halves_how_many_may_be_unconfirmed() -> None:
    suspects = Suspects(max_attempts=2)
    a, b, c, d = b"a 1 1\n", b"b 1 1\n", b"c 1 1\n", b"d 1 1\n"
    assert not suspects.must_wait(a, [b, c, d])  # no suspect: no bound
    assert suspects.broke([a, b, c, d]) is None
    assert suspects.width == 2
    assert all(suspects.attempts(body) == 0 for body in (a, b, c, d))
    assert suspects.must_wait(c, [a, b])  # two unconfirmed already
    assert not suspects.must_wait(b, [a])
    assert suspects.broke([a, b]) is None
    assert suspects.width == 1
    assert suspects.must_wait(b, [a])  # a suspect alone on the connection


def test_the_same_body_alone_at_max_attempts_breaks_in_a_row_is_given_up() -> None:
    suspects = Suspects(max_attempts=3)
    bad, good = b"bad 1 1\n", b"good 1 1\n"
    assert suspects.broke([good, bad]) is None
    assert suspects.broke([bad]) is None
    assert suspects.broke([bad]) is None
    assert suspects.attempts(bad) == 2
    given_up = suspects.broke([bytes(bytearray(bad))])  # the same bytes, as the spool gives them back
    assert given_up == bad
    assert bad not in suspects  # forgotten: the caller splits or drops it
    suspects.forget(good)  # confirmed
    assert not suspects
    assert suspects.width is None
    assert not suspects.must_wait(good, [bad, good, bad])


def test_the_suspects_remembered_are_bounded() -> None:
    suspects = Suspects(max_attempts=3, max_entries=10)
    for i in range(100):
        suspects.broke([f"p{i} 1 1\n".encode(), b"x 1 1\n"])
    assert len(suspects._attempts) == 10
    assert b"p99 1 1\n" in suspects
    assert b"p0 1 1\n" not in suspects


@given(
    bad=st.lists(st.booleans(), min_size=1, max_size=30),
    restarts=st.sets(st.integers(0, 300), max_size=2),
    max_attempts=st.integers(3, 5),
)
def test_a_model_carbon_every_good_body_is_confirmed_and_every_bad_one_given_up(
    bad: list[bool], restarts: set[int], max_attempts: int
) -> None:
    """Bodies written in order, one more at each step the rules allow; carbon reads each
    as it comes and drops the connection at a bad one (or at a restart's step): the break
    catches every body unconfirmed, written again first. Else, at a step, the oldest
    unconfirmed body is confirmed. Fewer restarts than ``max_attempts``: a good body is
    never given up."""
    suspects = Suspects(max_attempts)
    queue = deque((f"p{i} {i} 1\n".encode(), is_bad) for i, is_bad in enumerate(bad))
    window: list[tuple[bytes, bool]] = []
    confirmed, given_up = [], []
    for step in range(100 * len(bad) + 100):
        if not queue and not window:
            break
        if queue and not suspects.must_wait(queue[0][0], [body for body, _ in window]):
            window.append(queue.popleft())
            if window[-1][1] or step in restarts:
                caught, window = window, []
                lost = suspects.broke([body for body, _ in caught])
                if lost is not None:
                    given_up.append(lost)
                queue.extendleft(reversed([entry for entry in caught if entry[0] is not lost]))
            continue
        body, is_bad = window.pop(0)  # time passes: the oldest is confirmed
        assert not is_bad, "carbon never reads past a bad body"
        suspects.forget(body)
        confirmed.append(body)
    else:
        raise AssertionError("no end in bounded steps")
    assert sorted(confirmed) == sorted(f"p{i} {i} 1\n".encode() for i, is_bad in enumerate(bad) if not is_bad)
    assert sorted(given_up) == sorted(f"p{i} {i} 1\n".encode() for i, is_bad in enumerate(bad) if is_bad)
    assert not suspects
