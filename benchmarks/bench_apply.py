"""Benchmark (issue 3): plan and apply N streams + N broadcasts against the simulator, printing
requests per kind and per method, wall time, CPU time and peak memory for each phase.

    python benchmarks/bench_apply.py            # 2,000 + 2,000, in-process simulator
    python benchmarks/bench_apply.py --quick    # 200 + 200
    python benchmarks/bench_apply.py --empty-body   # broadcast creates answer an empty 200

Prints figures and a PASS/FAIL line; asserts nothing (it is not a timed test).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import tracemalloc
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import flow
from harness import (
    PhaseResult,
    SimHandle,
    emit_json,
    lower_bound,
    measure,
    print_phase,
    write_manifests,
)

MUTATING = ("POST", "PATCH", "PUT", "DELETE")


@dataclass(frozen=True)
class ApplyRun:
    """The figures of one run: every phase, the no-op plan's bounds, what the no-op apply wrote."""

    n: int
    empty_body: bool
    results: list[PhaseResult]
    first: PhaseResult  # the first apply, which creates everything
    bounds: dict[str, int]
    plan_ok: bool  # the no-op plan: no changes, only the sweeps, within their bounds
    noop_changes: int
    noop_writes: int  # mutating requests of the no-op apply

    @property
    def noop_plan(self) -> PhaseResult:
        return self.results[3]


def run_apply(
    n: int,
    *,
    latency: float = 0.0,
    concurrency: int = 8,
    child: bool = False,
    empty_body: bool = False,
    traced: bool = False,
    out: Any = None,
) -> ApplyRun:
    """Plans and applies n + n on an empty account, then plans and applies again (no-op);
    prints each phase to `out`."""
    results: list[PhaseResult] = []
    with tempfile.TemporaryDirectory(prefix="bench-apply-") as tmp:
        start = time.perf_counter()
        root = write_manifests(Path(tmp) / "manifests", n, "bench")
        files = sum(1 for _ in root.rglob("*.yaml"))
        took = time.perf_counter() - start
        print(f"generated {2 * n + 1} documents in {files} files in {took:.2f} s", file=out)
        sim = SimHandle(child=child, active_limit=n + 100, empty_body=empty_body)
        sim.set_faults(latency_ms=latency)
        api = flow.make_client(sim, concurrency=concurrency)
        try:
            with measure("load manifests", sim, traced=traced) as r:
                desired = flow.load(root)
            results.append(r)
            print_phase(r, out=out)

            with measure("plan (empty account)", sim, traced=traced) as r:
                first = flow.plan(desired, api)
            r.note = f"{len(first.plan.changes)} changes planned"
            results.append(r)
            empty_bounds = {"streams": lower_bound(0), "broadcasts": lower_bound(0)}
            print_phase(r, bounds=empty_bounds, out=out)

            with measure("apply (creates everything)", sim, traced=traced) as r:
                report = flow.apply(desired, api, workers=concurrency)
            r.note = flow.report_note(report)
            results.append(r)
            print_phase(r, out=out)

            with measure("plan (no-op)", sim, traced=traced) as r:
                noop = flow.plan(desired, api)
            bounds = {
                "streams": lower_bound(len(noop.live.streams)),
                "broadcasts": lower_bound(len(noop.live.broadcasts)),
            }
            r.note = (
                f"{len(noop.plan.changes)} changes; account holds {len(noop.live.streams)} "
                f"streams, {len(noop.live.broadcasts)} broadcasts"
            )
            results.append(r)
            print_phase(r, bounds=bounds, out=out)
            # Issue 3: no more than the list sweep, ceil(N/25)+1 requests per kind (the sweep
            # expects the manifests' counts, so it stops at the first empty page).
            reads_ok = all(r.reads_of(k) <= b for k, b in bounds.items())
            only_reads = r.total == sum(r.reads_of(k) for k in bounds)

            with measure("apply (no-op)", sim, traced=traced) as r:
                report2 = flow.apply(desired, api, workers=concurrency)
            r.note = flow.report_note(report2)
            results.append(r)
            print_phase(r, bounds=bounds, out=out)
        finally:
            api.close()
            sim.close()
    return ApplyRun(
        n=n,
        empty_body=empty_body,
        results=results,
        first=results[2],
        bounds=bounds,
        plan_ok=not noop.plan.changes and reads_ok and only_reads,
        noop_changes=len(noop.plan.changes),
        noop_writes=sum(k for call, k in r.requests.items() if call.startswith(MUTATING)),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=2000, help="streams, and as many broadcasts")
    parser.add_argument("--latency", type=float, default=0.0, help="simulated ms per request")
    parser.add_argument("--concurrency", type=int, default=8, help="client workers")
    parser.add_argument("--quick", action="store_true", help="200 + 200")
    parser.add_argument(
        "--empty-body",
        action="store_true",
        help="broadcast creates answer an empty 200 (the official spec), not the object",
    )
    parser.add_argument(
        "--sim",
        choices=("inprocess", "process"),
        default="inprocess",
        help="simulator in this process (CPU figures include it) or in a child on a real port",
    )
    parser.add_argument(
        "--tracemalloc", action="store_true", help="trace Python allocations (slower)"
    )
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    n = 200 if args.quick else args.n
    if args.tracemalloc:
        tracemalloc.start()

    print(
        f"bench_apply: {n} streams + {n} broadcasts, latency {args.latency} ms, "
        f"concurrency {args.concurrency}, simulator {args.sim}, "
        f"broadcast create answers {'an empty body' if args.empty_body else 'the object'}, "
        f"python {sys.version.split()[0]}"
    )
    run = run_apply(
        n,
        latency=args.latency,
        concurrency=args.concurrency,
        child=args.sim == "process",
        empty_body=args.empty_body,
        traced=args.tracemalloc,
    )
    bounds, noop = run.bounds, run.noop_plan
    verdict = "PASS" if run.plan_ok else "FAIL"
    strict = sum(bounds.values())
    print(
        f"{verdict}: no-op plan used {noop.total} requests ("
        + ", ".join(f"{k} {noop.reads_of(k)}" for k in bounds)
        + f"); lower bound ceil(N/25)+1 per kind = {strict} ("
        + " + ".join(f"{k} {b}" for k, b in bounds.items())
        + f"); {run.noop_changes} changes"
    )
    writes = run.noop_writes
    print(f"{'PASS' if writes == 0 else 'FAIL'}: no-op apply sent {writes} mutating requests")
    for line in write_costs(run.first, n, empty_body=args.empty_body):
        print(line)
    emit_json(
        args.json,
        run.results,
        {
            "n": n,
            "latency_ms": args.latency,
            "concurrency": args.concurrency,
            "sim": args.sim,
            "bounds": bounds,
        },
    )
    return 0 if run.plan_ok and writes == 0 else 1


# A first apply's writes that are the lock's, not the pairs': its create and its release (a PATCH
# marking it released: it stays as the set's trail).
LOCK_WRITES = 2


def writes_per_pair(first: PhaseResult, n: int) -> float:
    """POSTs and PATCHes of a first apply per created stream + broadcast pair, the lock's own
    two writes aside (issue 12: 3)."""
    methods = first.by_method()
    return (methods["POST"] + methods["PATCH"] - LOCK_WRITES) / n


def requests_per_empty_body_create(first: PhaseResult) -> float:
    """Broadcast POSTs plus the broadcast list GETs of the apply, per POST: what a create costs
    when its answer is an empty 200 and its id must be found by a sweep."""
    posts = first.requests["POST /streaming/broadcasts"]
    return (posts + first.requests["GET /streaming/broadcasts"]) / max(posts, 1)


def write_costs(first: PhaseResult, n: int, *, empty_body: bool) -> list[str]:
    """Issue 12's figures of the first apply: writes per created pair (stream + broadcast; the
    lock stream's create and release are not counted), and, when creates answer an empty body,
    the requests each broadcast create costs (its POST and its share of the sweeps finding it)."""
    methods = first.by_method()
    lines = [
        f"first-apply writes per created pair: {writes_per_pair(first, n):.3f} "
        f"({methods['POST']} POST + {methods['PATCH']} PATCH for {n} streams + {n} broadcasts, "
        f"less the lock's create and release; target 3)"
    ]
    if empty_body:
        posts = first.requests["POST /streaming/broadcasts"]
        sweeps = first.requests["GET /streaming/broadcasts"]
        lines.append(
            f"empty-body create requests per create: {requests_per_empty_body_create(first):.3f} "
            f"({posts} POST + {sweeps} broadcast list GETs in the apply)"
        )
    return lines


if __name__ == "__main__":
    sys.exit(main())
