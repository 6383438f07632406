"""The series a remote write sink has sent: a number for each label set, and the newest
timestamp sent for it. Sans-I/O.

The numbers let a batch be grouped by series in numpy (an array of small integers
instead of a dict of label sets); the timestamps keep a sample that Prometheus would
refuse (not newer than the series' newest) from being sent. Both are a memory, not a
guard: when ``max_series`` are held, everything is forgotten at the start of the next
batch (:meth:`SeriesTable.full`), and a series met again gets a new number. A forgotten
timestamp costs at most a request the receiver refuses, which the sink takes apart.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

#: "Nothing sent yet": older than any timestamp.
NEVER = np.iinfo(np.int64).min


class SeriesTable:
    def __init__(self, max_series: int) -> None:
        self.max_series = max_series
        self._numbers: dict[bytes, int] = {}
        #: The encoded labels of each series, by number.
        self.labels: list[bytes] = []
        #: The newest timestamp sent, by number.
        self.last: npt.NDArray[np.int64] = np.full(1024, NEVER, dtype=np.int64)
        #: Bumped when everything is forgotten: numbers from before mean nothing now.
        self.generation = 0

    def __len__(self) -> int:
        return len(self.labels)

    def number(self, labels: bytes) -> int:
        """The number of the series with these encoded labels (a new one if need be)."""
        number = self._numbers.get(labels)
        if number is None:
            number = self._numbers[labels] = len(self.labels)
            self.labels.append(labels)
            if number >= len(self.last):
                self.last = np.concatenate([self.last, np.full(len(self.last), NEVER, dtype=np.int64)])
        return number

    def full(self) -> bool:
        """Forget everything if ``max_series`` are held; True if it did. Called between
        batches only, so that no number in use loses its meaning."""
        if len(self.labels) < self.max_series:
            return False
        self._numbers.clear()
        self.labels = []
        self.last = np.full(1024, NEVER, dtype=np.int64)
        self.generation += 1
        return True

    def sent(self, numbers: npt.NDArray[np.int64], newest: npt.NDArray[np.int64]) -> None:
        """The series ``numbers`` were sent up to ``newest`` (each its own)."""
        self.last[numbers] = newest
