"""The accept loop's pieces that need no sockets: backoff and the connection budget."""

from __future__ import annotations

from collector.descriptors import ConnectionBudget, budget_for
from collector.listeners.accept import Backoff


def test_backoff_grows_to_its_cap_and_resets() -> None:
    backoff = Backoff(first=0.01, cap=0.1)
    assert [backoff.next_delay() for _ in range(6)] == [0.01, 0.02, 0.04, 0.08, 0.1, 0.1]
    assert backoff.reset() == 6
    assert backoff.next_delay() == 0.01
    assert backoff.failures == 1


def test_the_budget_is_shared_and_given_back() -> None:
    budget = ConnectionBudget(budget_for(fd_limit=10, fd_reserve=8))
    assert [budget.take() for _ in range(3)] == [True, True, False]
    budget.give_back()
    assert budget.take()
    assert budget_for(fd_limit=10, fd_reserve=64) == 0
