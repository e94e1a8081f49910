"""Issue 9: an encoder connecting mid-apply. The plan read every stream idle and allows finishing
100 live broadcasts and deactivating their 100 streams; while `reconciler apply` runs, encoders
connect: 30 streams right after the read under the lock, and 20 more at the very moment apply
re-reads them. Not one disruptive write reaches a stream on air (0 on-air objects disrupted);
each such change is held, the others are done, and the run exits 3."""

from __future__ import annotations

import json
import random
import re
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
from chaos_support import N, write_set
from cli_harness import Invoke

from reconciler.model.marker import decode_entity_data

pytestmark = [pytest.mark.chaos]

OBJECT = re.compile(r"/streaming/(streams|broadcasts)/(\d+)$")


class Encoders(httpx.BaseTransport):
    """In front of the simulator: connects encoders mid-apply and counts every disruptive write
    that reaches an on-air stream (checked before the request is answered)."""

    def __init__(self, sim: Any, broadcast_streams: dict[int, list[int]], seed: int) -> None:
        self.sim = sim
        self.inner = sim.transport()
        self.broadcast_streams = broadcast_streams
        streams = sorted({s for ids in broadcast_streams.values() for s in ids})
        rng = random.Random(seed)
        picked = rng.sample(streams, 50)
        self.first, self.on_reread = picked[:30], set(picked[30:])
        self.on_air: set[int] = set()
        self.started = False
        self.lock = threading.Lock()
        self.disrupted: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        found = OBJECT.search(request.url.path)
        with self.lock:
            if found and request.method != "POST" and not self.started:
                self.started = True  # the first request about one object: after the read
                self._connect(self.first)
            if found and request.method == "GET" and found[1] == "streams":
                sid = int(found[2])
                if sid in self.on_reread:  # the worst moment: just before apply's re-read
                    self._connect([sid])
            if found and self._disrupts(request, found[1], int(found[2])):
                self.disrupted.append(f"{request.method} {request.url.path}")
        return self.inner.handle_request(request)

    def _connect(self, ids: list[int]) -> None:
        for sid in ids:
            self.sim.connect(sid)
            self.on_air.add(sid)

    def _disrupts(self, request: httpx.Request, kind: str, oid: int) -> bool:
        body = json.loads(request.content or b"{}").get(kind[:-1], {})
        if kind == "streams":
            cuts = request.method == "DELETE" or body.get("active") is False
            return cuts and oid in self.on_air
        ends = request.method == "DELETE" or body.get("status") == "finished"
        return ends and bool(self.on_air.intersection(self.broadcast_streams.get(oid, ())))


@pytest.mark.parametrize("seed", [1, 2])
def test_an_encoder_connecting_mid_apply_disrupts_nothing_on_air(
    sim: Any, api: Any, tmp_path: Path, seed: int
) -> None:
    root = write_set(tmp_path / "set")
    for path in root.rglob("*.yaml"):  # the shows are live (on air once an encoder connects)
        path.write_text(path.read_text().replace("status: pending", "status: live"))
    run = Invoke(sim)
    assert run("apply", "--yes", root).exit_code == 0
    for path in root.rglob("*.yaml"):  # the shows end and their streams are switched off
        text = path.read_text().replace("active: true", "active: false")
        path.write_text(text.replace("status: live", "status: finished"))
    assert run("plan", "--detailed-exitcode", root).exit_code == 2
    broadcasts = {b["id"]: list(b["stream_ids"]) for b in api.list_broadcasts()}
    encoders = Encoders(sim, broadcasts, seed)
    run.transport = encoders

    applied = run("apply", "--yes", root)

    assert encoders.disrupted == []
    assert applied.exit_code == 3, applied.output
    held = re.findall(r"^held +> stream \S+ \(id (\d+)\): deactivate", applied.output, re.M)
    assert encoders.on_air == {int(i) for i in held}  # each on-air stream's change is held
    for stream in api.list_streams():
        marker = decode_entity_data(stream.get("client_entity_data")).marker
        if marker is None:
            continue
        assert stream["active"] is (stream["id"] in encoders.on_air)
    for bid, ids in broadcasts.items():
        status = api.get_broadcast(bid)["status"]
        on_air = encoders.on_air.intersection(ids)
        assert status == "finished" or on_air, (bid, status)
    assert len(encoders.on_air) == 50 and len(broadcasts) == N
