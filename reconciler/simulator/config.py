"""Settings of a simulator instance: the account (key, quota, page size) and the faults it injects.

Plain values only; knows nothing about HTTP or storage.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Faults:
    """Misbehaviour on purpose; applies to `/streaming/` calls only, never to `/_simulator/`."""

    latency_ms: float = 0
    error_rate: float = 0  # share of API requests answered 5xx without side effects
    rate_limit_rps: float | None = None  # token bucket; 429 with Retry-After (seconds)
    drop_create_rate: float = 0  # share of POST creates that commit, then lose the response
    seed: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "latency_ms": self.latency_ms,
            "error_rate": self.error_rate,
            "rate_limit_rps": self.rate_limit_rps,
            "drop_create_rate": self.drop_create_rate,
            "seed": self.seed,
        }

    @classmethod
    def from_json(cls, data: object) -> Faults:
        """Build from a control-API body; raises ValueError with a readable message."""
        if not isinstance(data, dict):
            raise ValueError("faults must be a JSON object")
        unknown = sorted(set(data) - set(cls().to_json()))
        if unknown:
            raise ValueError(f"unknown fault field(s): {', '.join(unknown)}")
        values: dict[str, Any] = {}
        for name in ("latency_ms", "error_rate", "drop_create_rate"):
            if name in data:
                values[name] = _number(name, data[name], 0, None if name == "latency_ms" else 1)
        if data.get("rate_limit_rps") is not None:
            values["rate_limit_rps"] = _number("rate_limit_rps", data["rate_limit_rps"], 0, None)
            if values["rate_limit_rps"] <= 0:
                raise ValueError("rate_limit_rps must be > 0 (or null for no limit)")
        if data.get("seed") is not None:
            seed = data["seed"]
            if not isinstance(seed, int) or isinstance(seed, bool):
                raise ValueError("seed must be an integer or null")
            values["seed"] = seed
        return cls(**values)


def _number(name: str, value: object, low: float, high: float | None) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise ValueError(f"{name} must be a number")
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f">= {low}"
        raise ValueError(f"{name} must be {bound}")
    return float(value)


WebhookSink = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class SimulatorConfig:
    api_key: str
    state_path: str | None = None  # None = in-memory SQLite; a file persists across restarts
    webhook_url: str | None = None
    page_size: int = 25
    active_stream_limit: int = 50  # quota of concurrently active streams; 422 past it
    broadcast_create_returns_body: bool = True  # False = empty 200 body, as the official spec
    faults: Faults = field(default_factory=Faults)
    client_id: int = 58725
    start_time: datetime | None = None  # simulated clock start (aware); None = real UTC now
    webhook_sink: WebhookSink | None = None  # in-process receiver, called besides webhook_url
    max_body_bytes: int = 1_048_576
    video_viewable_after: float = 20.0  # simulated seconds from recording stop to "viewable"
    video_ready_after: float = 60.0  # ... and to "ready"
