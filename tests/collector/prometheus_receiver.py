"""A real Prometheus as a remote-write receiver: :class:`PrometheusServer` started with
``--web.enable-remote-write-receiver`` and a configuration that scrapes nothing, plus
what the remote write tests read back: series, and raw samples point by point.

Its storage lives in the folder given, so a restart keeps what was written (the TSDB's
WAL is replayed at start).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from .prometheus_server import PrometheusServer

RECEIVER_FLAGS = ("--web.enable-remote-write-receiver",)
#: Scrapes nothing: a receiver's configuration.
QUIET_CONFIG = "global:\n  scrape_interval: 1h\n  evaluation_interval: 1h\n"


class Prometheus(PrometheusServer):
    def __init__(self, workdir: Path, flags: Sequence[str] = RECEIVER_FLAGS, config: str = QUIET_CONFIG) -> None:
        super().__init__(workdir, config, flags)

    @property
    def write_url(self) -> str:
        return f"{self.url}/api/v1/write"

    def start(self, timeout: float = 30) -> Prometheus:
        super().start(timeout)
        return self

    def series(self, selector: str, start: float = 0, end: float = 4e9) -> list[dict[str, str]]:
        """Every series that matches ``selector``, as its labels."""
        return self.api("series", **{"match[]": selector, "start": start, "end": end})  # type: ignore[no-any-return]

    def samples(
        self, selector: str, window: str = "1d", at: float | None = None
    ) -> dict[tuple, list[tuple[int, float]]]:
        """Every raw sample of the series ``selector`` matches in the ``window`` before
        ``at`` (now by default), point by point: {sorted label items: [(ms, value)]}."""
        data = self.api("query", query=f"{selector}[{window}]", time=at)
        found = {}
        for result in data["result"]:
            labels = tuple(sorted(result["metric"].items()))
            found[labels] = [(round(float(t) * 1000), float(v)) for t, v in result["values"]]
        return found

    def count(self, selector: str, window: str = "1d") -> int:
        """How many raw samples the series ``selector`` matches hold in ``window``."""
        return sum(map(len, self.samples(selector, window).values()))
