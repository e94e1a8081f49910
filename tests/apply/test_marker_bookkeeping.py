"""Issue 12, quadratic bookkeeping: deleting N broadcasts must decode markers O(N) times, not
once per owned stream per delete (the marker book indexes broadcast id -> recording streams)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cli_harness import Invoke

import reconciler.model.live as live_model
from reconciler.lock.record import is_lock_stream
from reconciler.model.marker import EntityData, decode_entity_data

N = 40


def manifests(with_broadcasts: bool) -> str:
    docs = ["kind: Settings\nname: s\nspec:\n  max_deletions: 1000\n  max_deletion_percent: 100\n"]
    for i in range(N):
        docs.append(f"kind: Stream\nname: cam-{i}\nspec:\n  name: Cam {i}\n")
        if with_broadcasts:
            docs.append(
                f"kind: Broadcast\nname: show-{i}\nspec:\n  name: Show {i}\n  streams: [cam-{i}]\n"
            )
    return "---\n".join(docs)


def test_deleting_n_broadcasts_decodes_markers_linearly(
    sim: Any, api: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    run = Invoke(sim)
    path = tmp_path / "m.yaml"
    path.write_text(manifests(with_broadcasts=True))
    assert run("apply", "--yes", path).exit_code == 0
    assert len(api.list_broadcasts()) == N

    decodes = 0

    def counted(raw: str | None) -> EntityData:
        nonlocal decodes
        decodes += 1
        return decode_entity_data(raw)

    monkeypatch.setattr(live_model, "decode_entity_data", counted)
    path.write_text(manifests(with_broadcasts=False))
    sim.clear_log()
    result = run("apply", "--yes", "--allow-empty-prune", path)
    assert result.exit_code == 0, result.output
    assert api.list_broadcasts() == []
    deletes = [r for r in sim.requests() if r["method"] == "DELETE" and "broadcasts" in r["path"]]
    assert len(deletes) == N
    for stream in (s for s in api.list_streams() if not is_lock_stream(s)):
        marker = decode_entity_data(stream["client_entity_data"]).marker
        assert marker is not None and dict(marker.broadcasts) == {}
    # One read of N streams (the plan shown, reused under the lock: no apply came between) and
    # the lock stream's record: N + 1. A marker write decodes nothing more: its re-read holds the
    # text the plan's read decoded. Walking every owned marker per delete would be N*N = 1600.
    assert decodes <= N + 1, decodes
    print(f"{decodes} marker decodes for {N} broadcast deletes")
