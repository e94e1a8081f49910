"""Issue 9 item 3: a forged marker grants nothing. An entry claiming a broadcast counts only on a
stream that broadcast uses, and a copy of our marker on a lower id never takes the key over: it
is a warning and a hold of every change touching that key. Through the real command line, the
forgeries written into the simulator as a person with API access would."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cli_harness import Invoke

from reconciler.model.marker import Marker, decode_entity_data, encode_entity_data

MANIFEST = """\
kind: Settings
name: s
---
kind: Stream
name: cam
spec:
  name: {name}
  active: true
---
kind: Broadcast
name: show
spec:
  name: Show
  status: live
  streams: [cam]
"""


def _marker(api: Any, stream_id: int) -> Marker:
    marker = decode_entity_data(api.get_stream(stream_id)["client_entity_data"]).marker
    assert marker is not None
    return marker


def _writes(sim: Any) -> list[str]:
    return [f"{r['method']} {r['path']}" for r in sim.requests() if r["method"] != "GET"]


def test_an_entry_on_a_stream_the_broadcast_does_not_use_never_grants_its_deletion(
    sim: Any, api: Any, tmp_path: Path
) -> None:
    run = Invoke(sim)
    path = tmp_path / "m.yaml"
    path.write_text(MANIFEST.format(name="Cam"))
    assert run("apply", "--yes", path).exit_code == 0
    cam = next(s for s in api.list_streams() if s["name"] == "Cam")
    # A person's own broadcast on their own stream, then an entry for it forged in our marker.
    theirs = api.create_stream({"name": "Their cam"})
    town_hall = api.create_broadcast(
        {"name": "Town hall", "status": "pending", "stream_ids": [theirs["id"]]}
    )
    forged = _marker(api, cam["id"])
    forged = Marker(
        forged.set_name, forged.key, {**forged.broadcasts, "town-hall": town_hall["id"]}
    )
    api.update_stream(cam["id"], {"client_entity_data": encode_entity_data(forged, None)})

    plan = run("plan", path)
    assert plan.exit_code == 0, plan.output
    assert "0 to delete" in plan.stdout  # was: delete broadcast town-hall "Town hall"
    assert "client_entity_data.reconciler: updated (our marker)" in plan.stdout  # a repair:
    as_json = json.loads(run("plan", path, "-o", "json").stdout)  # the forged entry is dropped
    (repair,) = as_json["changes"]
    assert [d["path"] for d in repair["diffs"]] == [
        "/client_entity_data/reconciler/broadcasts/town-hall"
    ]
    assert (
        f"stream 'cam' (#{cam['id']}): its marker records broadcast 'town-hall' as "
        f"#{town_hall['id']}, which does not use this stream: not counted as this set's"
    ) in plan.output

    sim.clear_log()
    applied = run("apply", "--yes", path)
    assert applied.exit_code == 0, applied.output
    assert api.get_broadcast(town_hall["id"])["name"] == "Town hall"
    assert not [w for w in _writes(sim) if w.endswith(f"/broadcasts/{town_hall['id']}")]


def test_a_copy_of_our_marker_on_a_lower_id_is_held_never_switched(
    sim: Any, api: Any, tmp_path: Path
) -> None:
    run = Invoke(sim)
    older = api.create_stream({"name": "Someone's old stream"})  # a lower id than ours
    path = tmp_path / "m.yaml"
    path.write_text(MANIFEST.format(name="Cam"))
    assert run("apply", "--yes", path).exit_code == 0
    cam = next(s for s in api.list_streams() if s["name"] == "Cam")
    show = next(b for b in api.list_broadcasts() if b["name"] == "Show")
    assert older["id"] < cam["id"] and show["stream_ids"] == [cam["id"]]
    sim.connect(cam["id"])  # on air
    copy = api.get_stream(cam["id"])["client_entity_data"]
    api.update_stream(older["id"], {"client_entity_data": copy})

    plan = run("plan", path)
    assert plan.exit_code == 0, plan.output  # nothing moves: the stream our broadcast uses is ours
    assert "/streams" not in plan.stdout
    conflict = (
        f"stream 'cam': streams #{older['id']}, #{cam['id']} all carry this set's marker for it "
        f"and this set's broadcasts use #{cam['id']}, not only the lowest id"
    )
    assert conflict in plan.output

    # A declared change of that key is held (exit 3), and neither stream is written.
    path.write_text(MANIFEST.format(name="Cam renamed"))
    sim.clear_log()
    applied = run("apply", "--yes", path)
    assert applied.exit_code == 3, applied.output
    assert "held" in applied.output and conflict in applied.output
    assert _writes(sim) == []
    assert api.get_broadcast(show["id"])["stream_ids"] == [cam["id"]]
    assert api.get_stream(cam["id"])["name"] == "Cam"
    assert api.get_stream(older["id"])["name"] == "Someone's old stream"


def test_a_later_copy_without_evidence_keeps_the_lowest_id_rule(
    sim: Any, api: Any, tmp_path: Path
) -> None:
    """Item 2's rule stands where the evidence agrees: the copy on a higher id is left untouched
    and the changes of the key go through."""
    run = Invoke(sim)
    path = tmp_path / "m.yaml"
    path.write_text(MANIFEST.format(name="Cam"))
    assert run("apply", "--yes", path).exit_code == 0
    cam = next(s for s in api.list_streams() if s["name"] == "Cam")
    clone = api.create_stream(
        {"name": "Clone", "client_entity_data": api.get_stream(cam["id"])["client_entity_data"]}
    )
    path.write_text(MANIFEST.format(name="Cam renamed"))
    applied = run("apply", "--yes", path)
    assert applied.exit_code == 0, applied.output
    assert f"#{cam['id']} is managed, #{clone['id']} left untouched" in applied.output
    assert api.get_stream(cam["id"])["name"] == "Cam renamed"
    assert api.get_stream(clone["id"])["name"] == "Clone"
