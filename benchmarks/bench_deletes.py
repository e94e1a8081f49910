"""Benchmark (issue 12, quadratic bookkeeping): CPU of apply's marker bookkeeping for N broadcast
deletes (default 10,000), each broadcast recorded in the marker of its own stream, against a stub
API that answers at once: everything measured is CPU beyond the requests. Run twice: live
broadcasts (a disruptive delete: its stream is re-read just before the DELETE, invariant 5) and
pending ones (no re-check). The requests per delete are counted by method. Printed, not
asserted; target under 2 s for 10,000, one GET of the stream per delete.

    python benchmarks/bench_deletes.py            # 10,000 deletes of each kind
    python benchmarks/bench_deletes.py --n 1000
    python benchmarks/bench_deletes.py --workers 1   # the same work without thread handoffs
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from typing import Any

from reconciler.apply.scheduler import apply_plan
from reconciler.model.changes import Action, Change, Plan, Resource, Stage
from reconciler.model.desired import DesiredState, Settings
from reconciler.model.live import LiveState
from reconciler.model.marker import Marker, encode_entity_data
from reconciler.safety.guards import live_rule

SET = "bench"
live_hold = live_rule(DesiredState(Settings(SET), {}, {}))  # every broadcast here is pruned


class InstantStub:
    """A StreamingAPI whose deletes, marker PATCHes and re-reads cost nothing."""

    def __init__(self, streams: list[dict[str, Any]]) -> None:
        self.requests: Counter[str] = Counter()  # method -> requests
        self.streams = {s["id"]: s for s in streams}

    def get_stream(self, stream_id: int) -> dict[str, Any]:
        self.requests["GET"] += 1
        return self.streams[stream_id]

    def delete_broadcast(self, broadcast_id: int) -> None:
        self.requests["DELETE"] += 1

    def update_stream(self, stream_id: int, fields: dict[str, Any]) -> dict[str, Any]:
        self.requests["PATCH"] += 1
        return {"id": stream_id, **fields}


def account(n: int, status: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    streams, broadcasts = [], []
    for i in range(1, n + 1):
        marker = Marker(SET, f"cam-{i}", broadcasts={f"show-{i}": 5_000_000 + i})
        streams.append(
            {"id": i, "name": f"Cam {i}", "client_entity_data": encode_entity_data(marker, None)}
        )
        broadcasts.append(
            {"id": 5_000_000 + i, "name": f"Show {i}", "status": status, "stream_ids": [i]}
        )
    return streams, broadcasts


def deletes_cpu(n: int, status: str, workers: int = 8) -> tuple[float, Counter[str]]:
    streams, broadcasts = account(n, status)
    live = LiveState.from_raw(streams, broadcasts)
    plan = Plan(
        tuple(
            Change(
                Resource.BROADCAST,
                f"show-{i}",
                Action.DELETE,
                Stage.DELETE_BROADCASTS,
                target_id=5_000_000 + i,
                stream_refs=(f"cam-{i}",),
            )
            for i in range(1, n + 1)
        )
    )
    stub = InstantStub(streams)
    start = time.process_time()
    report = apply_plan(  # as `reconciler apply` runs it: live-safety re-checked at the write
        plan,
        stub,  # type: ignore[arg-type]
        live,
        workers=workers,
        set_name=SET,
        live_hold=live_hold,
    )
    spent = time.process_time() - start
    if report.exit_code != 0:
        raise SystemExit(f"apply of {n} deletes failed: exit {report.exit_code}")
    return spent, stub.requests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=10_000, help="broadcasts deleted")
    parser.add_argument("--workers", type=int, default=8, help="apply's workers (--concurrency)")
    args = parser.parse_args()
    n = args.n
    target = 2 * n / 10_000
    for status in ("live", "pending"):
        spent, requests = deletes_cpu(n, status, args.workers)
        per_delete = ", ".join(f"{requests[m] / n:g} {m}" for m in ("GET", "DELETE", "PATCH"))
        verdict = "PASS" if spent < target and requests["GET"] <= n else "FAIL"
        print(
            f"{verdict}: {n} {status} broadcast deletes: apply CPU {spent:.2f} s beyond the "
            f"requests; {requests.total()} stub requests ({per_delete} per delete); "
            f"target < {target:g} s and one GET of the stream per delete"
        )


if __name__ == "__main__":
    main()
