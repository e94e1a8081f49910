"""A `client_entity_data` nested deeper than the marker decoder reads (model/marker.py
MAX_ENTITY_DEPTH) is refused offline: stored, it would read back as nobody's, so every apply
would create another copy of the stream that the set never owns or prunes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reconciler.model.marker import MAX_ENTITY_DEPTH


def manifest(tmp_path: Path, levels: int) -> Path:
    """A stream whose `client_entity_data` is `levels` deep, the mapping itself counted (as in
    the stored JSON, where the user's keys sit beside the marker)."""
    path = tmp_path / "m.yaml"
    nested = "[" * (levels - 1) + "]" * (levels - 1)
    path.write_text(
        "kind: Settings\nname: deep\n---\nkind: Stream\nname: cam\nspec:\n"
        f"  name: Cam\n  client_entity_data:\n    k: {nested}\n"
    )
    return path


def test_client_entity_data_deeper_than_the_decoder_reads_is_refused(
    sim: Any, invoke: Any, tmp_path: Path
) -> None:
    path = manifest(tmp_path, MAX_ENTITY_DEPTH + 1)
    result = invoke("validate", path)
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith(
        f"{path}:8: spec.client_entity_data: nested 65 levels deep (the mapping is the first); "
        "at most 64 levels are read back as managed: flatten it\n"
    )
    sim.clear_log()
    applied = invoke("apply", "--yes", path)
    assert applied.exit_code == 1, applied.output
    assert sim.requests() == []  # nothing read, nothing written


def test_client_entity_data_at_the_limit_is_owned_and_converges(
    sim: Any, api: Any, invoke: Any, tmp_path: Path
) -> None:
    path = manifest(tmp_path, MAX_ENTITY_DEPTH)
    assert invoke("validate", path).exit_code == 0
    assert invoke("apply", "--yes", path).exit_code == 0
    again = invoke("apply", "--yes", path)
    assert again.exit_code == 0 and "No changes." in again.stdout, again.output
    names = [s["name"] for s in api.list_streams()]
    assert [n for n in names if not n.startswith("reconciler-lock")] == ["Cam"]
