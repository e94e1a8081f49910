"""The simulated clock. Without a start time it follows real time from now (a served simulator
looks natural); with a start time it is frozen and moves only by `advance` (deterministic tests).
Its position can be saved and restored, so a state file keeps its timeline. Knows nothing of
HTTP or storage.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime


class SimClock:
    def __init__(self, start: datetime | None = None) -> None:
        if start is not None and start.tzinfo is None:
            raise ValueError("start_time must be timezone-aware")
        self._frozen = start is not None
        # frozen: the simulated timestamp itself; following: simulated minus real seconds
        self._value = start.timestamp() if start is not None else 0.0

    def timestamp(self) -> float:
        return self._value if self._frozen else time.time() + self._value

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.timestamp(), UTC)

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        self._value += seconds

    def dump(self) -> str:
        return json.dumps({"frozen": self._frozen, "value": self._value})

    def load(self, text: str) -> None:
        data = json.loads(text)
        self._frozen, self._value = bool(data["frozen"]), float(data["value"])


def iso(ts: float) -> str:
    """API timestamp format, whole seconds as the platform shows them: 2022-06-03T13:25:16.000Z."""
    return datetime.fromtimestamp(int(ts), UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def record_title_time(ts: float) -> str:
    """Time as in a recording's name: 2022-06-03 13:25:16 +0000."""
    return datetime.fromtimestamp(int(ts), UTC).strftime("%Y-%m-%d %H:%M:%S +0000")
