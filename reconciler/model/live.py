"""The live account as read by one list sweep per kind (never one GET per object).

Knows the API only through the `StreamingAPI` protocol.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from reconciler.api.protocol import StreamingAPI

Json = dict[str, Any]


@dataclass(frozen=True)
class LiveState:
    streams: tuple[Json, ...]
    broadcasts: tuple[Json, ...]

    def stream_by_id(self) -> dict[int, Json]:
        return {int(s["id"]): s for s in self.streams}

    def broadcast_by_id(self) -> dict[int, Json]:
        return {int(b["id"]): b for b in self.broadcasts}


def read_live(api: StreamingAPI) -> LiveState:
    """Both sweeps must succeed: a failed read raises, so nothing is ever pruned on partial data."""
    return LiveState(streams=tuple(api.list_streams()), broadcasts=tuple(api.list_broadcasts()))
