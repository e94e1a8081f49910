"""Per-item CPU costs that must not grow with the account (printed, never asserted): masking
secrets with 10,000 registered stream tokens, and apply's scheduler with plans of 500 and 6,000
changes against a stub API that answers every PATCH in 1 ms.

    python benchmarks/bench_costs.py

Ratios matter, not absolute figures: the machine is shared and noisy.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from reconciler import redact
from reconciler.apply.scheduler import apply_plan
from reconciler.model.changes import Action, Change, Plan, Resource, Stage
from reconciler.model.live import LiveState
from reconciler.model.marker import Marker, encode_entity_data

LINE = "~ update stream cam-00001 (id 1000001): dvr_duration: 3600 -> 7200"


def masking_cost(tokens: int, lines: int = 1000) -> tuple[float, float]:
    """CPU seconds to register `tokens` tokens, and per redacted plan line."""
    values = [secrets.token_hex(16) for _ in range(tokens)]  # the simulator's token shape
    redact.forget_secrets()
    start = time.process_time()
    redact.register_secrets(values)
    registered = time.process_time() - start
    start = time.process_time()
    for _ in range(lines):
        redact.redact_text(LINE)
    per_line = (time.process_time() - start) / lines
    redact.forget_secrets()
    return registered, per_line


class SlowStub:
    """A StreamingAPI that answers every PATCH after 1 ms, like a fast network."""

    def update_stream(self, stream_id: int, fields: dict[str, Any]) -> dict[str, Any]:
        time.sleep(0.001)
        return {"id": stream_id, **fields}


def apply_cpu_per_change(n: int) -> float:
    streams = tuple(
        {
            "id": i,
            "name": f"s{i}",
            "client_entity_data": encode_entity_data(Marker("c", f"s{i}"), None),
        }
        for i in range(1, n + 1)
    )
    changes = tuple(
        Change(
            Resource.STREAM,
            f"s{i}",
            Action.UPDATE,
            Stage.UPDATE_STREAMS,
            target_id=i,
            body={"name": f"s{i}", "dvr_duration": 7200},
        )
        for i in range(1, n + 1)
    )
    start = time.process_time()
    report = apply_plan(
        Plan(changes), SlowStub(), LiveState.from_raw(streams), workers=8, set_name="c"
    )  # type: ignore[arg-type]
    spent = time.process_time() - start
    if report.exit_code != 0:
        raise SystemExit(f"apply of {n} stub changes failed: exit {report.exit_code}")
    return spent / n


def main() -> None:
    print("masking secrets (CPU)")
    for tokens in (100, 10_000):
        registered, per_line = masking_cost(tokens)
        print(
            f"  {tokens:>6} tokens: register {registered * 1e3:7.1f} ms, "
            f"{per_line * 1e6:7.1f} us per line"
        )
    print("apply scheduler (CPU per change, stub API answering in 1 ms, 8 workers)")
    small = min(apply_cpu_per_change(500) for _ in range(2))
    large = apply_cpu_per_change(6000)
    print(f"     500 changes: {small * 1e6:7.1f} us per change")
    print(
        f"   6,000 changes: {large * 1e6:7.1f} us per change "
        f"(ratio {large / small:.2f}; linear ~ 1)"
    )


if __name__ == "__main__":
    main()
