"""A webhook body read as a hint: which object to look at, never what its state is (the
reconcile reads the object itself). Pure; knows nothing of HTTP, queues or the API."""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Kind(StrEnum):
    STREAM = "stream"
    BROADCAST = "broadcast"


@dataclass(frozen=True, slots=True)
class Hint:
    """Look at this object: the key a burst of webhooks coalesces on."""

    kind: Kind
    id: int

    def __str__(self) -> str:
        return f"{self.kind} #{self.id}"


class BadWebhook(ValueError):
    """A body that is not a platform webhook (answered 400, counted, nothing else happens)."""


MAX_ID = 2**63 - 1


def parse_webhook(body: bytes) -> Hint | None:
    """The hint a webhook body carries; None for a well-formed one that concerns nothing we plan
    (a video's processing, a restream without a stream). Raises BadWebhook."""
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise BadWebhook("the body is not JSON") from None
    if not isinstance(value, dict) or not isinstance(value.get("type"), str):
        raise BadWebhook('not a webhook: expected {"type": ..., "message": {...}}')
    message = value.get("message")
    if not isinstance(message, dict):
        raise BadWebhook("not a webhook: no message object")
    kind = value["type"]
    if kind in ("stream", "broadcast"):
        return Hint(Kind(kind), _id(message.get(kind), "id"))
    if kind == "restream" and isinstance(message.get("restream"), dict):
        stream_id = message["restream"].get("stream_id")
        return (
            None if stream_id is None else Hint(Kind.STREAM, _id(message["restream"], "stream_id"))
        )
    return None  # video, video_delete and types to come: nothing the planner acts on


def _id(entity: Any, field: str) -> int:
    value = entity.get(field) if isinstance(entity, dict) else None
    if type(value) is not int or not 0 < value <= MAX_ID:
        raise BadWebhook(f"not a webhook: {field} is not a positive integer")
    return value
