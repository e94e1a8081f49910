"""`export` and `status` through the real command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def test_export_then_plan_is_a_no_op(invoke: Any, manifests: Path, tmp_path: Path) -> None:
    assert invoke("apply", "--yes", manifests).exit_code == 0
    exported = tmp_path / "exported.yaml"
    result = invoke("export", manifests, "--file", exported)
    assert result.exit_code == 0, result.output
    assert "kind: Stream" in exported.read_text()
    plan = invoke("plan", "--detailed-exitcode", exported)
    assert plan.exit_code == 0, plan.output
    by_name = invoke("export", "--set-name", "tutorial")
    assert by_name.exit_code == 0 and by_name.stdout == exported.read_text()


def test_export_needs_a_set_name(invoke: Any) -> None:
    result = invoke("export")
    assert result.exit_code == 1 and "--set-name" in result.stderr


def test_status_shows_live_and_recording(sim: Any, api: Any, invoke: Any, manifests: Path) -> None:
    assert invoke("apply", "--yes", manifests).exit_code == 0
    (stream,) = [s for s in api.list_streams() if s["name"] == "Studio A"]
    sim.connect(stream["id"])
    api.start_recording(stream["id"])
    text = invoke("status", manifests)
    assert text.exit_code == 0, text.output
    assert "studio-a" in text.stdout
    value = json.loads(invoke("status", "-o", "json", manifests).stdout)
    (row,) = value["streams"]
    assert (row["key"], row["live"], row["recording"]) == ("studio-a", True, True)
