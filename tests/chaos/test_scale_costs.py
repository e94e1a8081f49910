"""Costs that grow with the account and that the scale benchmark (benchmarks/bench_scale.py) found:
each one is a request count or a CPU budget a user with thousands of streams notices.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from chaos_support import write_set

from reconciler.pipeline import apply_desired, load_desired, plan_against


def page_one_sweeps(sim: Any, kind: str) -> int:
    return sum(
        1
        for r in sim.requests()
        if r["method"] == "GET"
        and r["path"] == f"/streaming/{kind}"
        and r["query"].get("page") == "1"
    )


def test_apply_reads_each_kind_once_after_the_plan_it_shows(
    sim: Any, api: Any, tmp_path: Path
) -> None:
    """`apply` plans without the lock, then takes the lock and re-reads: after the plan it has
    shown, one more sweep per kind is enough (acquire_lock accepts the plan's listing, and hands
    back the sweep that confirmed the lock, `Lock.streams`, as the fresh read for the re-plan).
    Every extra sweep costs ceil(N/25)+1 requests: ~400 requests per sweep at 10,000 streams."""
    desired = load_desired([write_set(tmp_path / "m", n=30)])
    live, shown = plan_against(desired, api)
    sim.clear_log()
    run = apply_desired(desired, api, shown, live=live)
    assert run.report.exit_code == 0
    assert page_one_sweeps(sim, "broadcasts") == 1  # the re-plan's read
    assert page_one_sweeps(sim, "streams") == 1  # the lock's confirmation = the re-plan's read


class SlowStub:
    """A StreamingAPI that answers every PATCH after 1 ms, like a fast network."""

    def update_stream(self, stream_id: int, fields: dict[str, Any]) -> dict[str, Any]:
        time.sleep(0.001)
        return {"id": stream_id, **fields}


def cpu_per_change(n: int) -> float:
    from reconciler.apply import apply_plan
    from reconciler.changes import Action, Change, Plan, Resource, Stage
    from reconciler.live import LiveState
    from reconciler.ownership import Marker, encode_entity_data

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
    report = apply_plan(Plan(changes), SlowStub(), LiveState(streams, ()), workers=8, set_name="c")  # type: ignore[arg-type]
    spent = time.process_time() - start
    assert report.exit_code == 0
    return spent / n


def test_apply_cost_per_change_does_not_grow_with_the_plan() -> None:
    """apply_plan's scheduler must stay linear: 10,000 creates or patches in one stage are what
    a first apply of a large account does. Submitting every change at once and calling
    `wait(FIRST_COMPLETED)` over all pending futures costs O(pending) per completion, O(n^2)
    in all (~2.5x the per-change CPU at 4,000 changes than at 500 here; ~100 s at 20,000)."""
    small = min(cpu_per_change(500) for _ in range(2))
    large = cpu_per_change(6000)
    assert large < 2.0 * small, (
        f"{large * 1e6:.0f} us per change at 6,000 vs {small * 1e6:.0f} at 500"
    )
