"""CPU and peak RSS of the whole `reconciler plan` process for two checkouts, alternated on one
seeded simulator (a child process on a loopback port), so that a change is compared under the
same machine load:

    python benchmarks/plan_process_ab.py --n 10000 /work/main /path/to/worktree

Each run is `python -c "... main()"` with PYTHONPATH set to one checkout, under /usr/bin/time.
"""

from __future__ import annotations

import argparse
import os
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
    root = write_manifests(Path(tempfile.mkdtemp()) / "same", args.n, "bench")
    env = dict(os.environ, GCORE_API_KEY=API_KEY, GCORE_BASE_URL=sim.url, RECONCILER_RATE_LIMIT="0")
    try:
        for _ in range(args.rounds):
            for tree in args.trees:
                done = subprocess.run(
                    [*TIMED, sys.executable, "-c", RUN, str(Path(tree).resolve()), str(root)],
                    env=dict(env, PYTHONPATH=tree),
                    capture_output=True,
                    text=True,
                    cwd=tempfile.gettempdir(),
                )
                times = [x for x in done.stderr.splitlines() if x.startswith("TIME ")]
                if not times:
                    print(f"{tree}: exit {done.returncode}: {done.stderr.strip()[-300:]}")
                    continue
                user, system, rss_kb = times[-1].split()[1:]
                cpu = float(user) + float(system)
                rss = int(rss_kb) // 1024
                print(f"{tree}: exit {done.returncode}, CPU {cpu:.2f} s, peak RSS {rss} MB")
    finally:
        sim.close()


if __name__ == "__main__":
    main()
