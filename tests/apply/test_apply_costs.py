"""Issue 12: what an apply costs in requests, pinned from the simulator's request log after the
real `reconciler apply` (never timed): one PATCH per stream on a first apply, and one sweep per
stage to resolve the ids of broadcast creates answered with an empty body (the official spec)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cli_harness import Invoke

from reconciler.model.marker import decode_entity_data
from reconciler.simulator import Simulator, SimulatorConfig
from tests.apply.apply_support import calls, markers, paired_set, sent
from tests.conftest import API_KEY

N = 30


def test_a_first_apply_sends_one_patch_per_stream_in_the_tutorials_order(
    sim: Any, api: Any, tmp_path: Path
) -> None:
    path = tmp_path / "set.yaml"
    path.write_text(paired_set(N))
    run = Invoke(sim)("apply", "--yes", path)
    assert run.exit_code == 0, run.output
    log = sim.requests()
    ours = {stream["id"]: stream for stream, _data in markers(api).values()}
    patches = [
        r
        for r in calls(sim, "PATCH", "/streaming/streams/")
        if int(r["path"].split("/")[-1]) in ours
    ]
    # One PATCH per stream: it activates the stream and records its broadcast (clearing the
    # intent) at once. With the creates: 3 writes per pair, plus the lock's own stream.
    assert len(patches) == N
    writes = [r for r in log if r["method"] != "GET"]
    stream_posts = [
        r
        for r in calls(sim, "POST", "/streaming/streams")
        if decode_entity_data(sent(r)["client_entity_data"]).marker is not None
    ]
    posts = calls(sim, "POST", "/streaming/broadcasts")
    assert len(stream_posts) == len(posts) == N
    lock_only = [r for r in writes if r not in patches + stream_posts + posts]
    assert all("/streaming/streams" in r["path"] for r in lock_only)
    assert len(writes) - len(lock_only) == 3 * N
    # The tutorial's order: each stream created inactive, activated after its broadcast exists.
    assert all(sent(r)["active"] is False for r in stream_posts)
    last_create = max(log.index(p) for p in posts)
    assert all(log.index(p) > last_create for p in patches)
    for patch in patches:
        body = sent(patch)
        assert body["active"] is True and "creating" not in body["client_entity_data"]
    for stream, data in markers(api).values():
        assert stream["active"] is True and len(data.marker.broadcasts) == 1


def test_empty_body_creates_resolve_their_ids_with_one_sweep_per_stage(tmp_path: Path) -> None:
    sim = Simulator(SimulatorConfig(api_key=API_KEY, broadcast_create_returns_body=False))
    try:
        path = tmp_path / "set.yaml"
        path.write_text(paired_set(N))
        run = Invoke(sim)("apply", "--yes", path)
        assert run.exit_code == 0, run.output
        broadcast_sweeps = len(calls(sim, "GET", "/streaming/broadcasts"))
        # The plan's read, the read under the lock, the look-up before the stage's first create
        # and one sweep resolving every created id: 2 pages each (30 broadcasts, 25 a page).
        assert broadcast_sweeps <= 4 * 3, broadcast_sweeps
        assert len(calls(sim, "POST", "/streaming/broadcasts")) == N
        client = Invoke(sim)
        again = client("plan", "--detailed-exitcode", path)
        assert again.exit_code == 0, again.output
        sim_markers = markers_of(sim)
        assert sorted(sim_markers) == sorted(f"cam-{i}" for i in range(N))
    finally:
        sim.close()


def markers_of(sim: Any) -> dict[str, Any]:
    from reconciler.api.client import ClientSettings, StreamingClient

    with StreamingClient(
        "http://simulator.invalid",
        API_KEY,
        transport=sim.transport(),
        settings=ClientSettings(rate_limit=None),
    ) as api:
        found = markers(api)
        broadcasts = {b["id"]: b for b in api.list_broadcasts()}
    for key, (_stream, data) in found.items():
        (bid,) = data.marker.broadcasts.values()
        assert broadcasts[bid]["name"] == "Show " + key.split("-")[1]
    return found
