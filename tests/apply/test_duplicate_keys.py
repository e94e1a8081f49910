"""Issue 9 item 2: two streams carrying the same marker key. The plan manages the lowest id and
leaves the other untouched; apply must agree (one rule: the ownership index), so the duplicate
is never written, through the real command line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cli_harness import Invoke

from reconciler.model.marker import Marker, decode_entity_data, encode_entity_data

MANIFEST = """\
kind: Settings
name: s
---
kind: Stream
name: cam
spec:
  name: Cam
---
kind: Broadcast
name: show
spec:
  name: Show
  streams: [cam]
"""


def test_apply_never_writes_the_duplicate_the_plan_leaves_untouched(
    sim: Any, api: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    text = encode_entity_data(Marker(set_name="s", key="cam"), None)
    low = api.create_stream({"name": "Cam", "client_entity_data": text})["id"]
    high = api.create_stream({"name": "Cam", "client_entity_data": text})["id"]
    assert low < high
    path = tmp_path / "m.yaml"
    path.write_text(MANIFEST)
    run = Invoke(sim)

    plan = run("plan", path)
    assert plan.exit_code == 0, plan.output
    assert f"#{low} is managed, #{high} left untouched" in plan.output

    sim.clear_log()
    applied = run("apply", "--yes", path)
    assert applied.exit_code == 0, applied.output
    (show,) = [b for b in api.list_broadcasts() if b["name"] == "Show"]
    assert show["stream_ids"] == [low]
    markers = {
        s["id"]: decode_entity_data(s["client_entity_data"]).marker for s in api.list_streams()
    }
    low_marker, high_marker = markers[low], markers[high]
    assert low_marker is not None and dict(low_marker.broadcasts) == {"show": show["id"]}
    assert high_marker == Marker(set_name="s", key="cam")  # as it was: never written
    touched = [r["path"] for r in sim.requests() if r["method"] != "GET"]
    assert not [p for p in touched if p.endswith(f"/streams/{high}")], touched
    assert f"/streaming/streams/{low}" in touched
