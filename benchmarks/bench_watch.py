"""Benchmark (issue 11): `reconciler watch` against `reconciler simulator serve` at the client's
default rate limit, both as subprocesses on loopback ports, as an operator runs them. Prints:

- hint-to-write latency (p50, p99): an encoder drops or returns through the control API, the
  simulator's webhook reaches watch, and the broadcast's status write lands (polled by GET);
- requests per hint (the watch's own API requests, from its /metrics, lock refreshes included);
- the watch's memory (VmRSS) and queue under a flood of 10,000 hints: first on the set's own
  streams (coalesced), then on 10,000 distinct ids (bounded queue: the overflow asks for one
  full resync instead).

    python benchmarks/bench_watch.py            # 20 streams, 40 drop/return hints
    python benchmarks/bench_watch.py --quick    # 5 streams, 10 hints

Figures only; asserts nothing (it is not a timed test).
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

KEY = "bench-watch-key-0123456789abcdef0123"
TOKEN = "bench-watch-token-0123456789abcdef"
AUTH = {"Authorization": f"APIKey {KEY}"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def manifests(n: int) -> str:
    docs = ["kind: Settings\nname: bench-watch\n"]
    for i in range(n):
        docs.append(
            f"kind: Stream\nname: cam-{i:02d}\nspec:\n  name: Cam {i:02d}\n  active: true\n"
        )
        docs.append(
            f"kind: Broadcast\nname: show-{i:02d}\npolicy:\n  pause_on_interruption: true\n"
            f"spec:\n  name: Show {i:02d}\n  status: live\n  streams: [cam-{i:02d}]\n"
        )
    return "---\n".join(docs)


def wait_for(check: Any, timeout: float = 60.0, every: float = 0.005) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if check():
            return time.monotonic() - start
        time.sleep(every)
    raise SystemExit("timed out")


def metric(watch: httpx.Client, name: str, *labels: str) -> float:
    total = 0.0
    for line in watch.get("/metrics").text.splitlines():
        if line.startswith(name) and line[len(name)] in " {" and all(x in line for x in labels):
            total += float(line.rsplit(" ", 1)[1])
    return total


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--streams", type=int, default=20)
    parser.add_argument("--hints", type=int, default=40, help="drop/return events timed")
    parser.add_argument("--flood", type=int, default=10_000)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        args.streams, args.hints = 5, 10
    port = free_port()
    env = {**os.environ, "GCORE_API_KEY": KEY, "RECONCILER_WEBHOOK_TOKEN": TOKEN}
    env.pop("RECONCILER_RATE_LIMIT", None)  # the client's default rate limit
    sim = subprocess.Popen(
        [sys.executable, "-m", "reconciler", "simulator", "serve", "--port", "0",
         "--webhook-url", f"http://127.0.0.1:{port}/webhook/{TOKEN}"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )  # fmt: skip
    assert sim.stdout is not None
    url = sim.stdout.readline().split(" on ")[1].split(" ")[0]
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "all.yaml").write_text(manifests(args.streams))
        watch = subprocess.Popen(
            [sys.executable, "-m", "reconciler", "watch", tmp, "--listen", f"127.0.0.1:{port}",
             "--lock-ttl", "60"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env={**env, "GCORE_BASE_URL": url, "RECONCILER_LOG": "warning"},
        )  # fmt: skip
        try:
            return run(args, url, port, watch)
        finally:
            watch.send_signal(signal.SIGTERM)
            code = watch.wait(timeout=120)
            print(f"SIGTERM: watch exited {code}")
            sim.terminate()
            sim.communicate(timeout=10)


def run(args: argparse.Namespace, url: str, port: int, proc: subprocess.Popen[Any]) -> int:
    api = httpx.Client(base_url=url, headers=AUTH, timeout=10)
    watch = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10)

    def ready() -> bool:
        try:
            return watch.get("/readyz").status_code == 200
        except httpx.HTTPError:
            return False

    started = wait_for(ready, timeout=300, every=0.1)
    print(f"first full sync of {args.streams} streams + broadcasts: {started:.1f} s")
    shows = [
        b for page in (1, 2, 3, 4) for b in api.get(f"/streaming/broadcasts?page={page}").json()
    ]
    by_stream = {b["stream_ids"][0]: b["id"] for b in shows}
    for sid in by_stream:
        api.post(f"/_simulator/streams/{sid}/connect")
    # The connect hints settle (the shows were live already: reads, nothing to write).
    time.sleep(1.0)
    wait_for(lambda: metric(watch, "reconciler_watch_queue_depth") == 0, every=0.2)
    time.sleep(1.0)

    hints0 = metric(watch, "reconciler_watch_hints_received_total")
    requests0 = metric(watch, "reconciler_api_requests_total")
    gets0 = metric(watch, "reconciler_api_requests_total", 'method="GET"')
    latencies: list[float] = []
    streams = list(by_stream)
    for i in range(args.hints):
        sid = streams[i % len(streams)]
        bid = by_stream[sid]
        drop = (i // len(streams)) % 2 == 0
        want = "paused" if drop else "live"
        api.post(f"/_simulator/streams/{sid}/{'disconnect' if drop else 'connect'}")
        latencies.append(
            wait_for(
                lambda b=bid, w=want: api.get(f"/streaming/broadcasts/{b}").json()["status"] == w
            )
        )
    time.sleep(0.5)
    hints = metric(watch, "reconciler_watch_hints_received_total") - hints0
    requests = metric(watch, "reconciler_api_requests_total") - requests0
    gets = metric(watch, "reconciler_api_requests_total", 'method="GET"') - gets0
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, round(0.99 * (len(latencies) - 1)))]
    print(f"hint-to-write latency over {len(latencies)} drops/returns: "
          f"p50 {statistics.median(latencies) * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, "
          f"max {latencies[-1] * 1000:.0f} ms")  # fmt: skip
    print(f"requests per hint: {requests / hints:.2f} ({gets / hints:.2f} GET) over {hints:.0f} "
          "hints (stream webhooks; lock refreshes included)")  # fmt: skip
    flood(
        watch,
        proc.pid,
        "the set's own streams",
        [streams[i % len(streams)] for i in range(args.flood)],
    )
    flood(watch, proc.pid, "distinct unknown ids", [10**9 + i for i in range(args.flood)])
    api.close()
    watch.close()
    return 0


def flood(watch: httpx.Client, pid: int, what: str, ids: list[int]) -> None:
    before = rss_kib(pid)
    received0 = metric(watch, "reconciler_watch_hints_received_total")
    coalesced0 = metric(watch, "reconciler_watch_hints_coalesced_total")
    overflow0 = metric(watch, "reconciler_watch_hints_overflowed_total")
    peak = [before]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.05):
            peak.append(rss_kib(pid))

    sampler = threading.Thread(target=sample)
    sampler.start()
    start = time.monotonic()
    url = str(watch.base_url)

    def post(chunk: list[int]) -> None:
        with httpx.Client(base_url=url, timeout=10) as client:
            for sid in chunk:
                client.post(
                    f"/webhook/{TOKEN}",
                    json={"type": "stream", "message": {"stream": {"id": sid, "live": True}}},
                )

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(post, [ids[i::8] for i in range(8)]))
    elapsed = time.monotonic() - start
    done.set()
    sampler.join()
    depth = metric(watch, "reconciler_watch_queue_depth")
    print(f"flood of {len(ids)} hints on {what}: {len(ids) / elapsed:.0f} hints/s accepted; "
          f"received {metric(watch, 'reconciler_watch_hints_received_total') - received0:.0f}, "
          f"coalesced {metric(watch, 'reconciler_watch_hints_coalesced_total') - coalesced0:.0f}, "
          f"overflowed {metric(watch, 'reconciler_watch_hints_overflowed_total') - overflow0:.0f}, "
          f"queue depth after {depth:.0f}; watch RSS {before / 1024:.1f} MiB before, "
          f"peak {max(peak) / 1024:.1f} MiB")  # fmt: skip


if __name__ == "__main__":
    raise SystemExit(main())
