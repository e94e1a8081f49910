"""CPU time of `compute_plan` at scale (not a test): N streams + N broadcasts, converged and with
1% drift. Run: python tests/plan/bench_plan.py [N]"""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from plan_fixtures import broadcast, dbroadcast, desired, dstream, live, marker, stream

from reconciler.plan.compute import compute_plan


def build(n: int) -> tuple[object, list[dict[str, object]], list[dict[str, object]]]:
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


def timed(label: str, d: object, state: object) -> None:
    start = time.process_time()
    plan = compute_plan(d, state)  # type: ignore[arg-type]
    cpu = time.process_time() - start
    print(f"{label}: {cpu * 1000:.0f} ms CPU, {len(plan.changes)} changes")


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    d, streams, broadcasts = build(n)
    timed(f"converged {n}+{n}", d, live(*streams, *broadcasts))
    rng = random.Random(1)
    for s in rng.sample(streams, n // 100):
        s["dvr_enabled"] = not s["dvr_enabled"]
    for b in rng.sample(broadcasts, n // 100):
        b["status"] = "paused"
    timed(f"1% drift {n}+{n}", d, live(*streams, *broadcasts))


if __name__ == "__main__":
    main()
