#!/usr/bin/env python3
"""Benchmark of the simulator itself (not a test): requests per second in-process and over a
real loopback port, with N streams stored (default 10,000).

    python benchmarks/simulator_bench.py [--streams 10000] [--workers 8]

Reports: creates/s, a full list sweep (ceil(N/25)+1 pages), GET-by-id and PATCH rates, each
in-process and over the port (one keep-alive client per worker thread).
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from reconciler.simulator import Simulator, SimulatorConfig, start_server

KEY = "bench-key"
HEADERS = {"Authorization": f"APIKey {KEY}"}


def sweep(c: httpx.Client) -> tuple[int, int]:
    """List every stream page by page; returns (streams, requests)."""
    page, seen = 1, 0
    while True:
        items = c.get("/streaming/streams", params={"page": page}).json()
        if not items:
            return seen, page
        seen += len(items)
        page += 1


def rate(label: str, n: int, seconds: float, results: list[dict[str, Any]]) -> None:
    results.append({"phase": label, "requests": n, "seconds": round(seconds, 3),
                    "req_per_s": round(n / seconds)})  # fmt: skip
    print(f"{label:<48} {n:>7} req {seconds:>8.3f} s {n / seconds:>10,.0f} req/s")


def parallel(make: Callable[[], httpx.Client], workers: int, jobs: list[Callable[[httpx.Client],
             Any]]) -> float:  # fmt: skip
    """Run jobs over `workers` threads, each with its own client; returns wall seconds."""
    chunks = [jobs[i::workers] for i in range(workers)]

    def run(chunk: list[Callable[[httpx.Client], Any]]) -> None:
        with make() as c:
            for job in chunk:
                job(c)

    start = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(run, chunks))
    return time.perf_counter() - start


def _get(sid: int) -> Callable[[httpx.Client], Any]:
    return lambda c: c.get(f"/streaming/streams/{sid}")


def _patch(sid: int) -> Callable[[httpx.Client], Any]:
    return lambda c: c.patch(f"/streaming/streams/{sid}", json={"stream": {"dvr_enabled": True}})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--streams", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--gets", type=int, default=4000)
    parser.add_argument("--json", action="store_true", help="also print the results as JSON")
    args = parser.parse_args()
    n, results = args.streams, []
    sim = Simulator(SimulatorConfig(api_key=KEY, active_stream_limit=n + 10))

    def in_process() -> httpx.Client:
        return httpx.Client(base_url="http://sim.invalid", transport=sim.transport(),
                            headers=HEADERS)  # fmt: skip

    with in_process() as c:
        start = time.perf_counter()
        for i in range(n):
            marker = {"reconciler": {"set": "bench", "key": f"stream-{i}"}}
            body = {"name": f"stream-{i}", "client_entity_data": json.dumps(marker)}
            c.post("/streaming/streams", json=body)
        rate(f"in-process: create {n} streams", n, time.perf_counter() - start, results)
        ids = [s["id"] for s in c.get("/streaming/streams").json()]
        first = ids[0]
        start = time.perf_counter()
        seen, pages = sweep(c)
        assert seen == n
        rate(f"in-process: list sweep of {n} streams", pages, time.perf_counter() - start, results)

    rng = random.Random(1)
    picks = [first + rng.randrange(n) for _ in range(args.gets)]
    gets = [_get(sid) for sid in picks]
    patches = [_patch(sid) for sid in picks[: args.gets // 2]]
    w = args.workers
    rate(f"in-process: GET by id, {w} threads", len(gets), parallel(in_process, w, gets), results)
    rate(f"in-process: PATCH, {w} threads", len(patches), parallel(in_process, w, patches), results)

    server = start_server(sim, host="127.0.0.1", port=0)
    try:

        def over_port() -> httpx.Client:
            return httpx.Client(base_url=server.url, headers=HEADERS, timeout=30)

        with over_port() as c:
            start = time.perf_counter()
            seen, pages = sweep(c)
            assert seen == n
            rate(f"port: list sweep of {n} streams", pages, time.perf_counter() - start, results)
        rate(f"port: GET by id, {w} threads", len(gets), parallel(over_port, w, gets), results)
        rate("port: GET by id, 1 thread", len(gets), parallel(over_port, 1, gets), results)
        rate(f"port: PATCH, {w} threads", len(patches), parallel(over_port, w, patches), results)
    finally:
        server.stop()
        sim.close()
    if args.json:
        print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
