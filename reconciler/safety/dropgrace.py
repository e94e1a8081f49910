"""The drop grace: a stream whose encoder dropped moments ago is taken as on air by the
live-safety rule. A short drop is an interruption of the show, not its end (the tutorial's
"Interruption during streaming"; the platform's recorder itself waits ~10 s before closing the
file): finishing the show, reusing the stream in another region or deleting it must wait until
the stream has stayed idle for the grace. `watch`, whose reconcile a drop's webhook triggers
within a second, runs with one by default; `plan` and `apply` with `--drop-grace`.

Pure: live state + the platform's time -> live state. Knows nothing of the API or of changes.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from reconciler.model.live import LiveState

WATCH_DEFAULT = 10.0  # seconds: the platform's recorder waits ~10 s on a drop (API-FACTS)


def with_drop_grace(live: LiveState, now: datetime, grace: float) -> LiveState:
    """`live` with the streams whose encoder dropped less than `grace` seconds before `now`
    noted in `recent_drops` (none when grace is 0)."""
    if grace <= 0:
        return live
    drops = {
        stream.id: ago
        for stream in live.streams
        if (ago := stream.down_for(now)) is not None and ago < grace
    }
    return replace(live, recent_drops=drops, drop_grace=grace) if drops else live


def grace_left(live: LiveState) -> float | None:
    """Seconds until the first noted drop leaves the grace (when a held change may go), or
    None when no stream is in its grace."""
    if not live.recent_drops:
        return None
    return max(0.0, live.drop_grace - max(live.recent_drops.values()))
