"""CPU and peak RSS of the whole `reconciler plan` process for two checkouts, alternated on one
seeded simulator (a child process on a loopback port), so that a change is compared under the
same machine load:

    python benchmarks/plan_process_ab.py --n 10000 /work/main /path/to/worktree

Each run is `python -c "... main()"` with PYTHONPATH set to one checkout, under /usr/bin/time.
Each checkout gets its own bytecode cache (PYTHONPYCACHEPREFIX in a temporary directory, filled
by one small warm-up plan that is not counted), as an installed package has: a checkout whose
.pyc files are stale or missing would otherwise pay for compiling its modules in every run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from harness import API_KEY, SimHandle, write_manifests

TIMED = ["/usr/bin/time", "-f", "TIME %U %S %M"]
RUN = (
    "import reconciler, sys; assert reconciler.__file__.startswith(sys.argv[1]); "
    "from reconciler.cli import main; sys.argv = ['reconciler', 'plan', sys.argv[2]]; main()"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("trees", nargs="+", help="checkouts to compare")
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    sim = SimHandle(child=True, active_limit=args.n + 200, seed_n=args.n, unowned=50)
    work = Path(tempfile.mkdtemp())
    root = write_manifests(work / "same", args.n, "bench")
    warmup = write_manifests(work / "warmup", 1, "warmup")
    env = dict(os.environ, GCORE_API_KEY=API_KEY, GCORE_BASE_URL=sim.url, RECONCILER_RATE_LIMIT="0")
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    trees = [str(Path(tree).resolve()) for tree in args.trees]
    envs = {
        tree: dict(env, PYTHONPATH=tree, PYTHONPYCACHEPREFIX=str(work / f"pyc-{i}"))
        for i, tree in enumerate(trees)
    }
    cpu: dict[str, list[float]] = {tree: [] for tree in trees}
    try:
        for tree in trees:
            _run(tree, warmup, envs[tree])  # fills the bytecode cache; not counted
        for _ in range(args.rounds):
            for tree in trees:
                measured = _run(tree, root, envs[tree])
                if measured is not None:
                    cpu[tree].append(measured)
    finally:
        sim.close()
    _summary(cpu)


def _run(tree: str, manifests: Path, env: dict[str, str]) -> float | None:
    """One timed `reconciler plan`; prints and returns its CPU (user + sys), None if it failed."""
    done = subprocess.run(
        [*TIMED, sys.executable, "-c", RUN, tree, str(manifests)],
        env=env,
        capture_output=True,
        text=True,
        cwd=tempfile.gettempdir(),
    )
    times = [x for x in done.stderr.splitlines() if x.startswith("TIME ")]
    if not times:
        print(f"{tree}: exit {done.returncode}: {done.stderr.strip()[-300:]}")
        return None
    user, system, rss_kb = times[-1].split()[1:]
    cpu = float(user) + float(system)
    what = "warm-up" if manifests.name == "warmup" else "plan"
    rss = int(rss_kb) // 1024
    print(f"{tree}: {what} exit {done.returncode}, CPU {cpu:.2f} s, peak RSS {rss} MB")
    return cpu


def _summary(cpu: dict[str, list[float]]) -> None:
    """Median CPU per checkout, and each one against the first named."""
    first = next(iter(cpu))
    base = statistics.median(cpu[first]) if cpu[first] else None
    for tree, runs in cpu.items():
        if not runs:
            continue
        median = statistics.median(runs)
        versus = f", {median / base - 1:+.0%} vs {first}" if base and tree != first else ""
        shown = ", ".join(f"{x:.2f}" for x in runs)
        print(f"== {tree}: median CPU {median:.2f} s ({shown}){versus}")


if __name__ == "__main__":
    main()
