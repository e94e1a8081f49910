"""CPU time of the planning phases at scale (not a test): N streams + N broadcasts, converged and
with 1% drift. Each phase as `reconciler plan` runs it (cyclic GC off), best and median of
--rounds: the live model built from the listed dicts (`LiveState.from_raw`), the ownership index
(`ownership_of`), then `compute_plan`. Run: python tests/plan/bench_plan.py [N] [--rounds R];
compare checkouts with PYTHONPATH=<checkout> in one session (the machine is shared)."""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from plan_fixtures import broadcast, dbroadcast, desired, dstream, marker, stream

import reconciler
from reconciler.model.desired import DesiredState
from reconciler.model.live import LiveState
from reconciler.model.ownership import ownership_of
from reconciler.plan.compute import compute_plan

Listing = list[dict[str, Any]]


def build(n: int) -> tuple[DesiredState, Listing, Listing]:
    streams, broadcasts, wanted_s, wanted_b = [], [], [], []
    for i in range(n):
        key, bkey = f"s{i:05d}", f"b{i:05d}"
        fields = {"active": True, "dvr_enabled": i % 2 == 0, "transcoding_region": "ed2"}
        wanted_s.append(dstream(key, user={"team": f"t{i % 7}"}, **fields))
        wanted_b.append(dbroadcast(bkey, [key], status="live", pending_message="soon"))
        owner = marker(key, broadcasts={bkey: 100_000 + i})
        streams.append(stream(i + 1, owner=owner, user={"team": f"t{i % 7}"}, live=True, **fields))
        broadcasts.append(
            broadcast(100_000 + i, bkey, [i + 1], status="live", pending_message="soon")
        )
    return desired(wanted_s, wanted_b), streams, broadcasts


def timed(label: str, d: DesiredState, streams: Listing, broadcasts: Listing, rounds: int) -> None:
    cpu: dict[str, list[float]] = {"live model": [], "ownership": [], "compute_plan": []}
    changes = 0
    for _ in range(rounds):
        start = time.process_time()
        state = LiveState.from_raw(streams, broadcasts)
        parsed = time.process_time()
        ownership_of(state, d.settings.set_name)
        indexed = time.process_time()
        changes = len(compute_plan(d, state).changes)
        planned = time.process_time()
        cpu["live model"].append(parsed - start)
        cpu["ownership"].append(indexed - parsed)
        cpu["compute_plan"].append(planned - indexed)
    shown = ", ".join(
        f"{phase} {min(v) * 1000:.0f}/{statistics.median(v) * 1000:.0f}" for phase, v in cpu.items()
    )
    print(f"{label}: {shown} ms CPU (best/median of {rounds}), {changes} changes")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("n", nargs="?", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    n = args.n
    print(f"checkout {Path(reconciler.__file__).parent.parent}")
    d, streams, broadcasts = build(n)
    gc.disable()  # as `reconciler plan` runs (cli/commands.py `_no_cyclic_gc`)
    timed(f"converged {n}+{n}", d, streams, broadcasts, args.rounds)
    rng = random.Random(1)
    for s in rng.sample(streams, n // 100):
        s["dvr_enabled"] = not s["dvr_enabled"]
    for b in rng.sample(broadcasts, n // 100):
        b["status"] = "paused"
    timed(f"1% drift {n}+{n}", d, streams, broadcasts, args.rounds)


if __name__ == "__main__":
    main()
