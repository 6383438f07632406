"""What a backfill run did, as the JSON summary and the one line on standard error.

Strategy: a plain record the shell adds to as objects are committed (never before: a
summary counts only what the store holds) and two renderings of it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class Summary:
    source: str
    executor: str
    listed: int = 0
    selected: int = 0
    already_done: int = 0
    out_of_range: int = 0
    processed: int = 0
    failed: dict[str, str] = field(default_factory=dict)
    damaged: dict[str, str] = field(default_factory=dict)  #: recorded, counted as far as they could be read
    lines: int = 0
    requests: int = 0
    downloads: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    formats: Counter[str] = field(default_factory=Counter)  #: objects read, by the format they were read as
    bytes_read: int = 0
    seconds: float = 0.0
    worker_seconds: float = 0.0  #: spent reading objects, all workers together
    interrupted: bool = False

    @property
    def lines_per_second(self) -> float:
        return self.lines / self.seconds if self.seconds else 0.0

    def to_json(self) -> dict[str, object]:
        return {
            "source": self.source,
            "executor": self.executor,
            "listed": self.listed,
            "selected": self.selected,
            "already_done": self.already_done,
            "out_of_range": self.out_of_range,
            "processed": self.processed,
            "failed": [{"object": name, "error": error} for name, error in sorted(self.failed.items())],
            "damaged": [{"object": name, "damage": damage} for name, damage in sorted(self.damaged.items())],
            "lines": self.lines,
            "requests": self.requests,
            "downloads": self.downloads,
            "rejected": dict(self.rejected),
            "formats": dict(self.formats),
            "bytes_read": self.bytes_read,
            "seconds": round(self.seconds, 3),
            "worker_seconds": round(self.worker_seconds, 3),
            "lines_per_second": round(self.lines_per_second),
            "interrupted": self.interrupted,
        }

    def line(self) -> str:
        status = f"{len(self.failed)} FAILED" if self.failed else "none failed"
        if self.damaged:
            status += f", {len(self.damaged)} damaged (counted as far as readable)"
        if self.interrupted:
            status += ", interrupted (run again to finish)"
        return (
            f"backfill: {self.processed} objects read, {self.already_done} already done, "
            f"{self.out_of_range} out of range, {status}; {self.lines:,} lines, {self.downloads:,} downloads, "
            f"{self.lines_per_second:,.0f} lines/s in {self.seconds:.1f} s"
        )
