"""Benchmark (issue 12, "Done when"): every figure the issue asks for, in one run, each next to its
target with PASS/FAIL. Runs the other scripts' own measurements (imported, not copied):

- first-apply writes per created stream + broadcast pair (bench_apply; target 3),
- requests per broadcast create when creates answer an empty 200 (bench_apply --empty-body;
  target: the POST plus at most two broadcast sweeps' share, never a sweep per create),
- CPU of apply's bookkeeping for 10,000 broadcast deletes beyond the requests (bench_deletes),
- requests of a 1% apply of 10,000 + 10,000 against its lower bound (bench_scale; 1.15x),
- the whole `reconciler plan` process (/usr/bin/time, simulator in another process): CPU at 10k
  (< 2.5 s) and at 100k (within 12x of 10k), peak memory at both (< 1.5 GB at 100k).

    python benchmarks/bench_issue12.py             # all of it, 100,000 + 100,000 included
    python benchmarks/bench_issue12.py --no-huge   # without the 100k run
    python benchmarks/bench_issue12.py --quick     # small sizes (a smoke test), 10x for "huge"

Printed, never asserted: the exit code is 0 only when every figure meets its target.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import bench_apply
import bench_deletes
import bench_scale
from harness import lower_bound


@dataclass(frozen=True)
class Sizes:
    apply: int  # streams (and as many broadcasts) created by the first apply
    deletes: int
    scale: int  # the account of the 1% apply and the first `reconciler plan` process
    huge: int


FULL = Sizes(apply=2000, deletes=10_000, scale=10_000, huge=100_000)
QUICK = Sizes(apply=200, deletes=1000, scale=1000, huge=10_000)


@dataclass(frozen=True)
class Figure:
    name: str
    value: str
    target: str
    met: bool


def first_apply_figures(n: int, out: Any) -> Iterator[Figure]:
    run = bench_apply.run_apply(n, out=out)
    methods = run.first.by_method()
    writes = methods["POST"] + methods["PATCH"]
    yield Figure(
        "first-apply writes per created pair",
        f"{bench_apply.writes_per_pair(run.first, n):.3f} ({methods['POST']} POST + "
        f"{methods['PATCH']} PATCH, {n} pairs; the lock's create and release aside)",
        "3",
        writes - bench_apply.LOCK_WRITES <= 3 * n,
    )
    empty = bench_apply.run_apply(n, empty_body=True, out=out)
    per_create = bench_apply.requests_per_empty_body_create(empty.first)
    bound = 1 + 2 * lower_bound(n) / n
    gets = empty.first.requests["GET /streaming/broadcasts"]
    yield Figure(
        "empty-body create requests per create",
        f"{per_create:.3f} ({n} POST, {gets} broadcast list GETs)",
        f"<= {bound:.3f} (POST + two sweeps' share)",
        per_create <= bound,
    )


def deletes_figure(n: int) -> Figure:
    # Live broadcasts: each delete is also re-checked against its stream (the costlier case).
    spent, requests = bench_deletes.deletes_cpu(n, "live")
    limit = 2 * n / 10_000
    return Figure(
        f"CPU of {n} live broadcast deletes beyond the requests",
        f"{spent:.2f} s ({sum(requests.values())} stub requests)",
        f"< {limit:g} s",
        spent < limit,
    )


def scale_figures(n: int, huge: int | None, settings: Any, out: Any) -> Iterator[Figure]:
    run = bench_scale.run_scale(n, settings, out=out)
    yield Figure(
        f"1% apply of {n} + {n}: requests / lower bound",
        f"{run.apply_ratio:.2f}x ({run.apply.total} requests, bound {run.apply_bound})",
        "<= 1.15x",
        run.apply_ratio <= 1.15 and run.converged,
    )
    small = run.process
    yield Figure(
        f"`reconciler plan` process CPU at {n}",
        small.cpu_text,
        "< 2.5 s",
        small.cpu is not None and small.cpu < 2.5,
    )
    yield _memory(n, small, 2 * n + bench_scale.UNOWNED, limit=False)
    if huge is None:
        return
    process, sent, bound = bench_scale.plan_process_at(huge, settings, out=out)
    ratio = None if process.cpu is None or small.cpu is None else process.cpu / small.cpu
    yield Figure(
        f"`reconciler plan` process CPU at {huge}",
        f"{process.cpu_text} = " + ("?" if ratio is None else f"{ratio:.1f}x the {n} figure"),
        f"<= {bench_scale.CPU_RATIO_TARGET:g}x",
        ratio is not None and ratio <= bench_scale.CPU_RATIO_TARGET,
    )
    yield _memory(huge, process, 2 * huge + bench_scale.UNOWNED, limit=True)
    yield Figure(
        f"`reconciler plan` requests at {huge}",
        f"{sent} (lower bound {bound})",
        "= the lower bound",
        sent <= bound,
    )


def _memory(n: int, process: Any, objects: int, *, limit: bool) -> Figure:
    rss = process.max_rss_mb
    per_object = "" if rss is None else f" ({rss * 1024 / objects:.1f} KiB per object)"
    return Figure(
        f"`reconciler plan` peak RSS at {n}",
        f"{process.rss_text}{per_object}",
        "< 1.5 GB" if limit else "(none at this size)",
        rss is not None and (not limit or rss < bench_scale.MEMORY_TARGET_MB),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke test")
    parser.add_argument("--no-huge", action="store_true", help="skip the 100,000 + 100,000 run")
    parser.add_argument(
        "--latency", type=float, default=20.0, help="simulated ms per request of bench_scale"
    )
    parser.add_argument("--verbose", action="store_true", help="print every phase as it ends")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    out = sys.stdout if args.verbose else io.StringIO()
    settings = bench_scale.Settings(latency=args.latency, naive_sample=50)
    print(
        f"bench_issue12: sizes {sizes}, bench_scale latency {args.latency} ms, "
        f"python {sys.version.split()[0]}, load average {os.getloadavg()[0]:.1f} on "
        f"{os.cpu_count()} CPUs"
    )
    steps = [
        ("first applies (bench_apply, with and without an empty create answer)",
         lambda: first_apply_figures(sizes.apply, out)),
        ("broadcast deletes (bench_deletes)", lambda: iter([deletes_figure(sizes.deletes)])),
        ("scale (bench_scale)" + ("" if args.no_huge else f", then {sizes.huge} + {sizes.huge}"),
         lambda: scale_figures(sizes.scale, None if args.no_huge else sizes.huge, settings, out)),
    ]  # fmt: skip
    figures: list[Figure] = []
    for title, step in steps:
        start = time.perf_counter()
        print(f"... {title}", flush=True)
        figures.extend(step())
        print(f"    done in {time.perf_counter() - start:.0f} s", flush=True)
    width = max(len(f.name) for f in figures)
    for f in figures:
        print(f"{'PASS' if f.met else 'FAIL'}  {f.name:<{width}}  {f.value}  [target {f.target}]")
    return 0 if all(f.met for f in figures) else 1


if __name__ == "__main__":
    sys.exit(main())
