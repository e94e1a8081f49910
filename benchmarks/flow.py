"""What the benchmarks run: the reconciler's own load / plan / apply, as the CLI runs them, over a
client bound to a benchmark simulator; plus the naive read-each-object-by-id baseline.

Knows the reconciler's public module surfaces only (docs/architecture.md).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness import API_KEY, SimHandle


def make_client(sim: SimHandle, *, concurrency: int, rate_limit: float | None = None) -> Any:
    from reconciler.api.client import StreamingClient
    from reconciler.api.settings import ClientSettings

    settings = ClientSettings(rate_limit=rate_limit, concurrency=concurrency, backoff_base=0.01)
    return StreamingClient(sim.url, API_KEY, transport=sim.transport, settings=settings)


def load(path: Path) -> Any:
    from reconciler.pipeline import load_desired

    return load_desired([path])


@dataclass(frozen=True)
class PlanRun:
    plan: Any
    live: Any
    text: str  # the rendered plan (rendering is part of what `reconciler plan` costs)


def plan(desired: Any, api: Any) -> PlanRun:
    """`reconciler plan`: one read of the account, the plan, the guards, the text rendering."""
    from reconciler.pipeline import plan_against
    from reconciler.render.formats import render_plan

    live, result = plan_against(desired, api)
    return PlanRun(result, live, render_plan(result, "text"))


def apply(desired: Any, api: Any, *, workers: int) -> Any:
    """`reconciler apply --yes` as cli.py runs it: a plan without the lock; when something is
    pending, take the lock, read and plan again, apply, render the report. Returns the report."""
    from reconciler.pipeline import LockOptions, apply_desired, plan_against
    from reconciler.render.formats import render_plan, render_report

    live, shown = plan_against(desired, api)
    render_plan(shown, "text")
    run = apply_desired(
        desired, api, shown, lock=LockOptions(owner="benchmark"), workers=workers, live=live
    )
    render_report(run.report, "text")
    return run.report


@dataclass(frozen=True)
class NaiveRun:
    ids: int  # objects in the account
    sampled: int  # objects actually read by id
    requests: int  # sweeps + sampled GETs
    wall: float
    cpu: float

    def extrapolated(
        self, sweep_requests: int, sweep_wall: float, sweep_cpu: float
    ) -> tuple[int, float, float]:
        """(requests, wall, cpu) for reading every object by id, scaled from the sample."""
        if not self.sampled:
            return sweep_requests, sweep_wall, sweep_cpu
        scale = self.ids / self.sampled
        return (
            sweep_requests + self.ids,
            sweep_wall + (self.wall - sweep_wall) * scale,
            sweep_cpu + (self.cpu - sweep_cpu) * scale,
        )


def naive_read(api: Any, *, workers: int, sample: int | None) -> tuple[NaiveRun, float, float]:
    """Terraform's way: list the ids, then GET every object by id, `workers` at a time.

    With `sample`, only that many objects per kind are read (spread evenly over the ids).
    Returns the run and the wall/CPU of the id sweeps alone, so the caller can extrapolate.
    """
    wall0, cpu0 = time.perf_counter(), time.process_time()
    stream_ids = [int(s["id"]) for s in api.list_streams()]
    broadcast_ids = [int(b["id"]) for b in api.list_broadcasts()]
    sweep_wall, sweep_cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    picked_streams = _spread(stream_ids, sample)
    picked_broadcasts = _spread(broadcast_ids, sample)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(api.get_stream, picked_streams))
        list(pool.map(api.get_broadcast, picked_broadcasts))
    run = NaiveRun(
        ids=len(stream_ids) + len(broadcast_ids),
        sampled=len(picked_streams) + len(picked_broadcasts),
        requests=0,
        wall=time.perf_counter() - wall0,
        cpu=time.process_time() - cpu0,
    )
    return run, sweep_wall, sweep_cpu


def _spread(ids: Sequence[int], sample: int | None) -> list[int]:
    if sample is None or sample >= len(ids):
        return list(ids)
    step = len(ids) / sample
    return [ids[int(i * step)] for i in range(sample)]


def report_note(report: object) -> str:
    from reconciler.model.changes import Outcome, Report

    assert isinstance(report, Report)
    counts = ", ".join(f"{o.value} {report.count(o)}" for o in Outcome if report.count(o))
    return f"report: {counts or 'nothing to do'}; exit code {report.exit_code}"
