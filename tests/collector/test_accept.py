"""The accept loop's piece that needs no sockets: the connection budget (its backoff is the
emitter's, tested there)."""

from __future__ import annotations

from collector.listeners._descriptors import ConnectionBudget, budget_for


def test_the_budget_is_shared_and_given_back() -> None:
    budget = ConnectionBudget(budget_for(fd_limit=10, fd_reserve=8))
    assert [budget.acquire() for _ in range(3)] == [True, True, False]
    budget.release()
    assert budget.acquire()
    assert budget_for(fd_limit=10, fd_reserve=64) == 0
