"""watch's full resync writes under the same re-checks as `apply`: a Cleanup deletion is held when,
between the resync's read and the write, an encoder connected to the stream or a broadcast that is
not finished started using it. The watch loop in-process (one step), the simulator behind a
transport that acts at the re-read of the stream."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.api.client import ClientSettings, StreamingClient
from reconciler.api.transport import ClientStats
from reconciler.watch.leader import Leadership
from reconciler.watch.loop import WatchConfig, Watcher
from reconciler.watch.metrics import WatchMetrics
from reconciler.watch.queue import HintQueue
from tests.apply.apply_support import Hooked
from tests.conftest import API_KEY

MANIFESTS = (
    "kind: Settings\nname: prod\n---\nkind: Stream\nname: cam\n"
    "---\nkind: Cleanup\nname: stale\nspec: {idle_for: 30d, name_pattern: 'olduser-*'}\n"
)


def schedule_a_show(sim: Any, sid: int) -> None:
    answer = sim.transport().handle_request(
        httpx.Request(
            "POST",
            "http://simulator.invalid/streaming/broadcasts",
            json={"broadcast": {"name": "x", "status": "pending", "stream_ids": [sid]}},
            headers={"Authorization": f"APIKey {API_KEY}"},
        )
    )
    answer.read()


ACTS: dict[str, Callable[[Any, int], Any]] = {
    "an encoder connects": lambda sim, sid: sim.connect(sid),
    "a show is scheduled on it": schedule_a_show,
}


@pytest.mark.parametrize("act", sorted(ACTS))
def test_a_cleanup_deletion_in_a_resync_is_held_when_the_stream_is_taken_since_the_read(
    act: str, sim: Any, api: Any, tmp_path: Path
) -> None:
    path = tmp_path / "set.yaml"
    path.write_text(MANIFESTS)
    sid = int(api.create_stream({"name": "olduser-3", "active": True})["id"])
    sim.advance(40 * 86_400)
    acted: list[int] = []

    def at_the_re_read(request: httpx.Request) -> None:
        if request.url.path == f"/streaming/streams/{sid}" and not acted:
            acted.append(sid)
            ACTS[act](sim, sid)

    client = StreamingClient(
        "http://simulator.invalid",
        API_KEY,
        transport=Hooked(sim, at_the_re_read),
        settings=ClientSettings(rate_limit=None, backoff_base=0.0),
    )
    try:
        metrics = WatchMetrics(ClientStats)
        watcher = Watcher(
            client,
            WatchConfig(paths=[str(path)]),
            Leadership(client, "test", 60.0),
            HintQueue(16),
            metrics,
        )
        watcher.step()  # takes the lease, runs the full resync
        watcher.leadership.release()
    finally:
        client.close()
    assert acted == [sid]  # the resync re-read the stream just before its deletion
    assert sid in {s["id"] for s in api.list_streams()}
    assert not [r for r in sim.requests() if r["method"] == "DELETE" and str(sid) in r["path"]]
    assert 'reconciler_watch_changes_total{outcome="held"} 1.0' in metrics.render().decode()
