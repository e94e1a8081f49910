"""Issue 12, CPU of the no-op plan: `reconciler plan` of a converged account decodes each listed
stream's `client_entity_data` once and encodes no marker (the stored one is compared as decoded);
a stored value that is not exactly what this set writes is still encoded and repaired."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cli_harness import Invoke

import reconciler.model.live as live_model
import reconciler.plan.compute as compute_module
import reconciler.plan.streams as streams_module
from reconciler.lock.record import is_lock_stream
from reconciler.model.marker import EntityData, Marker, decode_entity_data, encode_entity_data

N = 30


def manifests() -> str:
    docs = ["kind: Settings\nname: s\n"]
    for i in range(N):
        user = "  client_entity_data: {team: news}\n" if i % 3 == 0 else ""
        docs.append(f"kind: Stream\nname: cam-{i}\nspec:\n  name: Cam {i}\n  active: true\n{user}")
        docs.append(
            f"kind: Broadcast\nname: show-{i}\nspec:\n  name: Show {i}\n  streams: [cam-{i}]\n"
        )
    return "---\n".join(docs)


class Calls:
    """Counts the marker codec calls made by the live model and the planner."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.decodes = 0
        self.encodes = 0

        def decode(raw: str | None) -> EntityData:
            self.decodes += 1
            return decode_entity_data(raw)

        def encode(marker: Marker | None, user: Any) -> str | None:
            self.encodes += 1
            return encode_entity_data(marker, user)

        monkeypatch.setattr(live_model, "decode_entity_data", decode)
        monkeypatch.setattr(streams_module, "encode", encode)
        monkeypatch.setattr(compute_module, "encode_entity_data", encode)


@pytest.fixture
def converged(sim: Any, api: Any, tmp_path: Path) -> Iterator[tuple[Invoke, Path]]:
    run = Invoke(sim)
    path = tmp_path / "m.yaml"
    path.write_text(manifests())
    assert run("apply", "--yes", path).exit_code == 0
    assert run("plan", "--detailed-exitcode", path).exit_code == 0
    yield run, path


def ours(api: Any) -> list[dict[str, Any]]:
    return [s for s in api.list_streams() if not is_lock_stream(s)]


def test_a_converged_plan_encodes_no_marker(
    converged: tuple[Invoke, Path], api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    run, path = converged
    listed = len(api.list_streams())  # ours and the lock stream
    calls = Calls(monkeypatch)
    result = run("plan", "--detailed-exitcode", path)
    assert result.exit_code == 0, result.output
    assert "No changes" in result.output
    # Each listed stream's data decoded once, at the read; nothing encoded to be compared.
    assert (calls.decodes, calls.encodes) == (listed, 0)


def test_a_stored_value_in_another_layout_is_no_change_and_no_encode(
    converged: tuple[Invoke, Path], api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    run, path = converged
    stream = ours(api)[0]
    value = json.loads(stream["client_entity_data"])
    # The same JSON value written by hand with spaces and the keys in another order.
    relaid = json.dumps(dict(reversed(list(value.items()))), indent=1)
    assert relaid != stream["client_entity_data"]
    api.update_stream(stream["id"], {"client_entity_data": relaid})
    calls = Calls(monkeypatch)
    result = run("plan", "--detailed-exitcode", path)
    assert result.exit_code == 0, result.output
    assert calls.encodes == 0


@pytest.mark.parametrize(
    ("edit", "written"),
    [
        (lambda m: {**m, "protect": False}, "a false flag this set never writes"),
        (lambda m: {**m, "note": "by hand"}, "a key this set does not know"),
        (lambda m: {**m, "released_broadcasts": []}, "an empty list this set leaves out"),
        (lambda m: {**m, "creating": {"x": 1}}, "an intent that is not a name"),
        (lambda m: {**m, "live_after": {}}, "an empty map this set leaves out"),
    ],
)
def test_a_marker_not_exactly_ours_is_encoded_and_repaired(
    converged: tuple[Invoke, Path],
    api: Any,
    monkeypatch: pytest.MonkeyPatch,
    edit: Any,
    written: str,
) -> None:
    run, path = converged
    stream = ours(api)[1]
    value = json.loads(stream["client_entity_data"])
    value["reconciler"] = edit(value["reconciler"])
    api.update_stream(stream["id"], {"client_entity_data": json.dumps(value)})
    calls = Calls(monkeypatch)
    result = run("plan", "--detailed-exitcode", path)
    assert result.exit_code == 2, (written, result.output)
    assert "ownership marker out of date" in result.output, written
    assert calls.encodes == 1, written  # that stream's marker alone
    assert run("apply", "--yes", path).exit_code == 0
    assert run("plan", "--detailed-exitcode", path).exit_code == 0
    repaired = next(s for s in ours(api) if s["id"] == stream["id"])
    assert decode_entity_data(repaired["client_entity_data"]).exact, written
