"""The simulated clock: follows real time from a start point, plus whatever `advance` added.

Its offset against real time can be saved and restored, so a state file keeps its timeline.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime


class SimClock:
    def __init__(self, start: datetime | None = None) -> None:
        start = start or datetime.now(UTC)
        if start.tzinfo is None:
            raise ValueError("start_time must be timezone-aware")
        self._offset = start.timestamp() - time.time()

    def now(self) -> datetime:
        return datetime.fromtimestamp(time.time() + self._offset, UTC)

    def timestamp(self) -> float:
        return time.time() + self._offset

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        self._offset += seconds

    @property
    def offset(self) -> float:
        """Seconds between simulated and real time (what a state file stores)."""
        return self._offset

    def restore(self, offset: float) -> None:
        self._offset = offset


def iso(ts: float) -> str:
    """API timestamp format, e.g. 2022-06-03T13:25:16.000Z."""
    moment = datetime.fromtimestamp(ts, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def record_title_time(ts: float) -> str:
    """Time as in a recording's name: 2022-06-03 13:25:16 +0000."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S +0000")
