"""Request costs that grow with the account and that the scale benchmark
(benchmarks/bench_scale.py) found: each sweep too many costs ceil(N/25)+1 requests. CPU costs are
printed by benchmarks/bench_costs.py (figures, not timed tests)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from chaos_support import write_set

from reconciler.model.changes import Action
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
    back the sweep that confirmed the lock, `Lock.streams`, as the fresh read for the re-plan),
    plus one sweep of a kind before creating objects of that kind (invariant 8).
    Every extra sweep costs ceil(N/25)+1 requests: ~400 requests per sweep at 10,000 streams."""
    root = write_set(tmp_path / "m", n=30)
    desired = load_desired([root])
    live, shown = plan_against(desired, api)
    sim.clear_log()
    run = apply_desired(desired, api, shown, live=live)
    assert run.report.exit_code == 0
    # The re-plan's read (for streams: the lock's confirmation), then the one before creating.
    assert page_one_sweeps(sim, "broadcasts") == 2
    assert page_one_sweeps(sim, "streams") == 2

    # An apply that creates nothing sweeps nothing before creating: the re-plan's read only.
    half = root / "streams" / "a.yaml"
    half.write_text(half.read_text().replace("dvr_enabled: True", "dvr_enabled: False"))
    desired = load_desired([root])
    live, shown = plan_against(desired, api)
    assert shown.pending and all(c.action is not Action.CREATE for c in shown.pending)
    sim.clear_log()
    assert apply_desired(desired, api, shown, live=live).report.exit_code == 0
    assert page_one_sweeps(sim, "broadcasts") == 1
    assert page_one_sweeps(sim, "streams") == 1
