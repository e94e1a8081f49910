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


def pages_read(sim: Any, kind: str) -> list[int]:
    return [
        int(r["query"]["page"])
        for r in sim.requests()
        if r["method"] == "GET" and r["path"] == f"/streaming/{kind}"
    ]


def test_apply_reads_nothing_again_after_the_plan_it_shows(
    sim: Any, api: Any, tmp_path: Path
) -> None:
    """`apply` plans without the lock, then takes the lock on the plan's read: the lock's
    confirmation reads the stream listing's end only (lock/since.py), and when that shows no
    other apply of the set came between, the plan is made again on the read it showed. What
    remains is one sweep of a kind before creating objects of that kind (invariant 8).
    Every extra sweep would cost ceil(N/25)+1 requests: ~400 at 10,000 streams."""
    root = write_set(tmp_path / "m", n=30)
    desired = load_desired([root])
    live, shown = plan_against(desired, api)
    sim.clear_log()
    run = apply_desired(desired, api, shown, live=live)
    assert run.report.exit_code == 0
    # Streams: the confirmation (an empty account: its end is page 1), the sweep before creating.
    assert page_one_sweeps(sim, "streams") == 2
    assert page_one_sweeps(sim, "broadcasts") == 1  # before creating: nothing read again

    # An apply that creates nothing sweeps nothing: the confirmation reads the last page (30
    # streams and the first apply's trail: page 2) and the empty page after it, and that is all.
    half = root / "streams" / "a.yaml"
    half.write_text(half.read_text().replace("dvr_enabled: True", "dvr_enabled: False"))
    desired = load_desired([root])
    live, shown = plan_against(desired, api)
    assert shown.pending and all(c.action is not Action.CREATE for c in shown.pending)
    sim.clear_log()
    run = apply_desired(desired, api, shown, live=live)
    assert run.report.exit_code == 0 and not run.replanned
    assert pages_read(sim, "streams") == [2, 3]
    assert pages_read(sim, "broadcasts") == []
    lock_writes = {"POST /streaming/streams": 1, "DELETE /streaming/streams/{id}": 1}
    assert sim.counters() == {
        "GET /streaming/streams": 2,
        "PATCH /streaming/streams/{id}": len(shown.pending) + 1,  # and the lock's release
        **lock_writes,  # the lock, and the first apply's trail it replaces
    }
