"""Benchmark harness: generates manifests, runs a simulator (in this process or a child process),
measures phases (requests per method, wall, CPU, peak memory) and prints them.

Knows the reconciler only through its public surfaces; the figures are printed, never asserted.
"""

from __future__ import annotations

import json
import math
import multiprocessing
import multiprocessing.connection
import resource
import sys
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

API_KEY = "bench-key-0123456789"
PAGE_SIZE = 25
DOCS_PER_FILE = 200  # several documents per file, files in nested directories


def lower_bound(n_objects: int, page_size: int = PAGE_SIZE) -> int:
    """One list sweep: every full page plus the empty page that ends it."""
    return math.ceil(n_objects / page_size) + 1


# --- manifests ----------------------------------------------------------------------------------


def stream_key(i: int) -> str:
    return f"cam-{i:05d}"


def broadcast_key(i: int) -> str:
    return f"show-{i:05d}"


def stream_doc(i: int, *, changed: bool = False) -> str:
    return (
        f"kind: Stream\nname: {stream_key(i)}\nspec:\n"
        f"  active: true\n  dvr_enabled: true\n  dvr_duration: {7200 if changed else 3600}\n"
        f"  auto_record: false\n  client_user_id: {i}\n"
    )


def broadcast_doc(i: int, *, changed: bool = False) -> str:
    message = "Back soon" if changed else "Starting soon"
    return (
        f"kind: Broadcast\nname: {broadcast_key(i)}\nspec:\n  status: pending\n"
        f"  streams: [{stream_key(i)}]\n  pending_message: {message}\n"
    )


def write_manifests(
    root: Path, n: int, set_name: str, *, changed: frozenset[int] = frozenset()
) -> Path:
    """n streams and n broadcasts (broadcast i uses stream i); indices in `changed` get a
    different dvr_duration and pending_message. Returns the directory to load."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "settings.yaml").write_text(f"kind: Settings\nname: {set_name}\n")
    for kind, render in (("streams", stream_doc), ("broadcasts", broadcast_doc)):
        for start in range(0, n, DOCS_PER_FILE):
            part = root / kind / f"part-{start // 1000:03d}"
            part.mkdir(parents=True, exist_ok=True)
            docs = [
                render(i, changed=i in changed) for i in range(start, min(n, start + DOCS_PER_FILE))
            ]
            (part / f"{kind}-{start:05d}.yaml").write_text("---\n".join(docs))
    return root


# --- the simulator, here or in a child process --------------------------------------------------


def sim_config(active_limit: int, *, empty_body: bool = False) -> dict[str, Any]:
    """`empty_body`: broadcast creates answer an empty 200, as the official spec documents."""
    return {
        "api_key": API_KEY,
        "active_stream_limit": active_limit,
        "page_size": PAGE_SIZE,
        "broadcast_create_returns_body": not empty_body,
    }


def seed_account(sim: Any, n: int, set_name: str, *, unowned: int = 0) -> None:
    """Creates n owned streams + n broadcasts in the simulator in bulk (`create_many`: the rules
    of a POST, no HTTP, one transaction): the state a converged apply of `write_manifests(n)`
    leaves behind.

    Ids are predicted from the simulator's id sequence and checked, so each stream's marker can
    name its broadcast in its create. `unowned` plain streams are added first (not ours).
    """
    from reconciler.model.marker import Marker, encode_entity_data

    sim.create_many("streams", ({"name": f"someone-else-{j}"} for j in range(unowned)))
    raw = httpx.Client(
        base_url="http://seed",
        transport=sim.transport(),
        headers={"Authorization": f"APIKey {API_KEY}"},
    )
    with raw:
        first_stream = _next_id(raw, "/streaming/streams", {"name": "probe"})
        first_broadcast = _next_id(
            raw, "/streaming/broadcasts", {"broadcast": {"name": "probe", "status": "pending"}}
        )
    streams = (
        {
            "name": stream_key(i),
            "active": True,
            "dvr_enabled": True,
            "dvr_duration": 3600,
            "auto_record": False,
            "client_user_id": i,
            "client_entity_data": encode_entity_data(
                Marker(set_name, stream_key(i), {broadcast_key(i): first_broadcast + i}), None
            ),
        }
        for i in range(n)
    )
    if sim.create_many("streams", streams) != list(range(first_stream, first_stream + n)):
        raise RuntimeError("simulator stream ids are not sequential")
    broadcasts = (
        {
            "broadcast": {
                "name": broadcast_key(i),
                "status": "pending",
                "stream_ids": [first_stream + i],
                "pending_message": "Starting soon",
            }
        }
        for i in range(n)
    )
    if sim.create_many("broadcasts", broadcasts) != list(
        range(first_broadcast, first_broadcast + n)
    ):
        raise RuntimeError("simulator broadcast ids are not sequential")


def _next_id(raw: httpx.Client, path: str, body: Mapping[str, Any]) -> int:
    """Creates and deletes a probe object: the next id is the probe's id + 1."""
    got = raw.post(path, json=body)
    got.raise_for_status()
    probe = int(got.json()["id"])
    raw.delete(f"{path}/{probe}").raise_for_status()
    return probe + 1


class SimHandle:
    """One simulator: `url` and `transport` (None in a child process) plus the controls the
    benchmarks need, whichever process it lives in."""

    def __init__(
        self,
        *,
        child: bool,
        active_limit: int,
        seed_n: int = 0,
        set_name: str = "bench",
        unowned: int = 0,
        empty_body: bool = False,
    ) -> None:
        self.child = child
        config = sim_config(active_limit, empty_body=empty_body)
        self._conn: multiprocessing.connection.Connection | None = None
        self._proc: Any = None
        self._sim: Any = None
        self.transport: httpx.BaseTransport | None = None
        if child:
            ctx = multiprocessing.get_context("spawn")
            parent, kid = ctx.Pipe()
            self._proc = ctx.Process(
                target=_child_main,
                args=(kid, config, seed_n, set_name, unowned),
                daemon=True,
            )
            self._proc.start()
            self._conn = parent
            self.url = str(self._call("url"))
        else:
            from reconciler.simulator import Simulator, SimulatorConfig

            self._sim = Simulator(SimulatorConfig(**config))
            if seed_n or unowned:
                seed_account(self._sim, seed_n, set_name, unowned=unowned)
            self.transport = self._sim.transport()
            self.url = "http://simulator.invalid"

    def _call(self, op: str, *args: Any) -> Any:
        if self._sim is not None:
            return _dispatch(self._sim, op, args)
        assert self._conn is not None
        self._conn.send((op, args))
        while not self._conn.poll(1.0):  # seeding 20,000 objects takes a while; death does not
            if not self._proc.is_alive():
                raise RuntimeError(f"simulator child exited with code {self._proc.exitcode}")
        ok, value = self._conn.recv()
        if not ok:
            raise RuntimeError(f"simulator child: {value}")
        return value

    def counters(self) -> dict[str, int]:
        return dict(self._call("counters"))

    def set_faults(self, **faults: Any) -> None:
        self._call("faults", faults)

    def cpu_seconds(self) -> float:
        """CPU time spent by the simulator's process (0 when it shares ours)."""
        return float(self._call("cpu")) if self.child else 0.0

    def close(self) -> None:
        if self._sim is not None:
            self._sim.close()
        elif self._conn is not None:
            self._call("stop")
            self._proc.join(10)


def _dispatch(sim: Any, op: str, args: tuple[Any, ...]) -> Any:
    from reconciler.simulator import Faults

    if op == "counters":
        return sim.counters()
    if op == "faults":
        sim.set_faults(Faults(**args[0]))
        return None
    if op == "cpu":
        return time.process_time()
    raise ValueError(f"unknown op {op}")


def _child_main(
    conn: multiprocessing.connection.Connection,
    config: dict[str, Any],
    seed_n: int,
    set_name: str,
    unowned: int,
) -> None:
    from reconciler.simulator import Simulator, SimulatorConfig, start_server

    sim = Simulator(SimulatorConfig(**config))
    if seed_n or unowned:
        seed_account(sim, seed_n, set_name, unowned=unowned)
    server = start_server(sim, host="127.0.0.1", port=0)
    while True:
        op, args = conn.recv()
        try:
            if op == "url":
                conn.send((True, server.url))
            elif op == "stop":
                server.stop()
                sim.close()
                conn.send((True, None))
                return
            else:
                conn.send((True, _dispatch(sim, op, args)))
        except Exception as exc:  # reported to the parent, which raises
            conn.send((False, repr(exc)))


# --- measuring ------------------------------------------------------------------------------------


@dataclass
class PhaseResult:
    name: str
    requests: Counter[str] = field(default_factory=Counter)
    wall: float = 0.0
    cpu: float = 0.0
    sim_cpu: float = 0.0
    peak_traced_mb: float | None = None
    maxrss_mb: float = 0.0
    note: str = ""

    @property
    def total(self) -> int:
        return sum(self.requests.values())

    def by_method(self) -> Counter[str]:
        out: Counter[str] = Counter()
        for call, n in self.requests.items():
            out[call.split(" ", 1)[0]] += n
        return out

    def by_kind(self) -> Counter[str]:
        """'streams' / 'broadcasts' / 'videos', from the path after /streaming/."""
        out: Counter[str] = Counter()
        for call, n in self.requests.items():
            path = call.split(" ", 1)[1] if " " in call else call
            parts = [p for p in path.split("/") if p]
            out[parts[1] if len(parts) > 1 else path] += n
        return out

    def reads_of(self, kind: str) -> int:
        return sum(
            n for call, n in self.requests.items() if call.startswith("GET ") and f"/{kind}" in call
        )


@contextmanager
def measure(name: str, sim: SimHandle, *, traced: bool) -> Iterator[PhaseResult]:
    result = PhaseResult(name)
    before = Counter(sim.counters())
    sim_cpu0 = sim.cpu_seconds()
    if traced:
        tracemalloc.reset_peak()
    wall0, cpu0 = time.perf_counter(), time.process_time()
    try:
        yield result
    finally:
        result.wall = time.perf_counter() - wall0
        result.cpu = time.process_time() - cpu0
        result.sim_cpu = sim.cpu_seconds() - sim_cpu0
        if traced:
            result.peak_traced_mb = tracemalloc.get_traced_memory()[1] / 2**20
        result.maxrss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        after = Counter(sim.counters())
        result.requests = Counter(
            {k: after[k] - before.get(k, 0) for k in after if after[k] - before.get(k, 0)}
        )


def print_phase(
    result: PhaseResult, *, bounds: Mapping[str, int] | None = None, out: Any = None
) -> None:
    out = out or sys.stdout
    mem = f"maxrss {result.maxrss_mb:.0f} MB"
    if result.peak_traced_mb is not None:
        mem = f"peak traced {result.peak_traced_mb:.1f} MB, " + mem
    sim_cpu = f" (+ simulator process {result.sim_cpu:.2f} s)" if result.sim_cpu else ""
    print(
        f"== {result.name}: {result.total} requests, wall {result.wall:.2f} s, "
        f"CPU {result.cpu:.2f} s{sim_cpu}, {mem}",
        file=out,
    )
    if result.note:
        print(f"   {result.note}", file=out)
    if result.requests:
        methods = ", ".join(f"{m} {n}" for m, n in sorted(result.by_method().items()))
        kinds = ", ".join(f"{k} {n}" for k, n in sorted(result.by_kind().items()))
        print(f"   per method: {methods}", file=out)
        print(f"   per kind:   {kinds}", file=out)
        for call, n in sorted(result.requests.items()):
            print(f"     {n:7d}  {call}", file=out)
    if bounds:
        for kind, bound in bounds.items():
            print(
                f"   reads of {kind}: {result.reads_of(kind)} (lower bound ceil(N/25)+1 = {bound})",
                file=out,
            )


def emit_json(path: str | None, results: Iterable[PhaseResult], extra: Mapping[str, Any]) -> None:
    """Machine-readable copy of the figures (for docs/performance.md)."""
    if not path:
        return
    rows = [
        {
            "phase": r.name,
            "requests": dict(r.requests),
            "total": r.total,
            "wall_s": round(r.wall, 3),
            "cpu_s": round(r.cpu, 3),
            "sim_cpu_s": round(r.sim_cpu, 3),
            "peak_traced_mb": r.peak_traced_mb,
            "maxrss_mb": round(r.maxrss_mb, 1),
            "note": r.note,
        }
        for r in results
    ]
    Path(path).write_text(json.dumps({"phases": rows, **extra}, indent=2) + "\n")


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start
