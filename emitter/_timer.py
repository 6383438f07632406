"""Time a block or a function and emit how long it took, in milliseconds, as ``value``."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from time import perf_counter
from types import TracebackType
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


class Timer:
    """``with emitter.timer("db.query"):`` or ``@emitter.timer("db.query")``.

    When the timed code raises, the metric is still sent, with an ``error`` field naming
    the exception type, and the exception propagates unchanged.
    """

    def __init__(self, send: Callable[..., Any], name: str, fields: dict[str, Any]) -> None:
        self._send = send
        self.name = name
        self.fields = fields
        self._starts: list[float] = []  # a stack, so one Timer may be entered re-entrantly

    def __enter__(self) -> Timer:
        self._starts.append(perf_counter())
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._emit(self._starts.pop(), exc_type)

    def _emit(self, start: float, exc_type: type[BaseException] | None) -> None:
        elapsed_ms = (perf_counter() - start) * 1000.0
        if exc_type is None:
            self._send(self.name, elapsed_ms, **self.fields)
        else:
            self._send(self.name, elapsed_ms, **self.fields, error=exc_type.__name__)

    def __call__(self, func: F) -> F:
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def timed_coroutine(*args: Any, **kwargs: Any) -> Any:
                start = perf_counter()
                try:
                    result = await func(*args, **kwargs)
                except BaseException as exc:
                    self._emit(start, type(exc))
                    raise
                self._emit(start, None)
                return result

            return timed_coroutine  # type: ignore[return-value]

        @functools.wraps(func)
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = perf_counter()
            try:
                result = func(*args, **kwargs)
            except BaseException as exc:
                self._emit(start, type(exc))
                raise
            self._emit(start, None)
            return result

        return timed  # type: ignore[return-value]
