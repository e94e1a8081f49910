"""The tutorial's basic operations, steps 1-19, each as a manifest edit + `reconciler apply`, with
the platform's webhooks of steps 4-18 checked as the tutorial lists them."""

from __future__ import annotations

import pytest

from tests.tutorial.conftest import Tutorial

pytestmark = pytest.mark.port

SETTINGS = "kind: Settings\nname: tutorial\n"


def stream(active: bool, recording: bool = False, region: str = "ix1") -> str:
    return f"""\
kind: Stream
name: test-stream
spec:
  name: test_stream
  active: {str(active).lower()}
  pull: false
  transcoding_region: {region}
  auto_record: false
  dvr_enabled: false
  recording: {str(recording).lower()}
"""


def broadcast(status: str) -> str:
    return f"""\
kind: Broadcast
name: test-broadcast
spec:
  name: test_broadcast
  status: {status}
  streams: [test-stream]
  pending_message: Please wait ...
"""


def test_steps_1_to_19(tutorial: Tutorial) -> None:
    t = tutorial
    t.write("settings.yaml", SETTINGS)

    # Stage 1, steps 1-3: one commit declares the end state; apply runs the tutorial's order.
    t.write("stream.yaml", stream(active=True))
    t.write("broadcast.yaml", broadcast("pending"))
    t.apply()
    sid, bid = t.stream("test_stream")["id"], t.broadcast("test_broadcast")["id"]
    writes = [(m, p) for m, p, _b in t.writes()]
    assert writes[:2] == [("POST", "/streaming/streams"), ("POST", "/streaming/broadcasts")]
    created = t.writes()[0][2]
    created = created.get("stream", created)
    assert created["active"] is False  # step 1: created inactive (quota)
    broadcast_body = t.writes()[1][2]
    broadcast_body = broadcast_body.get("broadcast", broadcast_body)
    assert broadcast_body["status"] == "pending" and broadcast_body["stream_ids"] == [sid]
    assert t.stream("test_stream")["active"] is True  # step 3
    assert t.broadcast("test_broadcast")["status"] == "pending"

    # Step 4: the encoder connects; the platform says so.
    t.control(f"streams/{sid}/connect")
    t.hooks.wait_for("stream", lambda s: s["id"] == sid and s["live"] is True)

    # Stage 2, steps 5-6: the broadcast goes live.
    t.write("broadcast.yaml", broadcast("live"))
    t.apply()
    assert t.broadcast("test_broadcast")["status"] == "live"
    t.hooks.wait_for("broadcast", lambda b: b["id"] == bid and b["status"] == "live")

    # Stage 3, steps 7-8: recording starts.
    t.write("stream.yaml", stream(active=True, recording=True))
    t.apply()
    assert [(m, p) for m, p, _ in t.writes()] == [
        ("PUT", f"/streaming/streams/{sid}/start_recording")
    ]
    t.hooks.wait_for("stream", lambda s: s["id"] == sid and s["recording"] is True)

    # Stage 4, steps 9-11: recording stops while the show is still on air (it cuts nobody).
    t.write("stream.yaml", stream(active=True, recording=False))
    t.apply()
    assert [(m, p) for m, p, _ in t.writes()] == [
        ("PUT", f"/streaming/streams/{sid}/stop_recording")
    ]
    t.hooks.wait_for("stream", lambda s: s["id"] == sid and s["recording"] is False)
    video = t.hooks.wait_for("video", lambda v: v["stream_id"] == sid and v["status"] == "pending")

    # The user stops streaming; then steps 12-13: the broadcast finishes.
    t.control(f"streams/{sid}/disconnect")
    t.write("broadcast.yaml", broadcast("finished"))
    t.apply()
    assert t.broadcast("test_broadcast")["status"] == "finished"
    t.hooks.wait_for("broadcast", lambda b: b["id"] == bid and b["status"] == "finished")

    # Steps 14-15: the stream is disabled; the platform reports it ended.
    t.write("stream.yaml", stream(active=False))
    t.apply()
    assert t.stream("test_stream")["active"] is False
    t.hooks.wait_for("stream", lambda s: s["id"] == sid and s["live"] is False)

    # Step 16: the broadcast is deleted (removed from the manifests, pruned). It was the set's
    # last broadcast: the empty-kind guard wants that said in the Settings document.
    t.write("settings.yaml", SETTINGS + "spec: {allow_empty_prune: true}\n")
    t.remove("broadcast.yaml")
    t.apply()
    assert [(m, p) for m, p, _ in t.writes()] == [
        ("DELETE", f"/streaming/broadcasts/{bid}"),
        ("PATCH", f"/streaming/streams/{sid}"),  # its stream's marker forgets it
    ]
    assert "test-broadcast" not in t.stream("test_stream")["client_entity_data"]
    assert t.broadcasts() == []

    # Steps 17-18: the recording is processed as time passes.
    t.control("clock/advance", {"seconds": 90})
    t.hooks.wait_for("video", lambda v: v["id"] == video["id"] and v["status"] == "viewable")
    t.hooks.wait_for("video", lambda v: v["id"] == video["id"] and v["status"] == "ready")

    # Step 19: the video's information, as `reconciler status` shows it and the API returns it.
    status = t.cli("status", str(t.manifests))
    assert status.code == 0, status.err
    assert "Stream Record: test_stream" in status.out
    assert t.get(f"/streaming/videos/{video['id']}")["stream_id"] == sid


def test_stage_4_after_the_encoder_stopped(tutorial: Tutorial) -> None:
    """Stage 4 as a user may also play it: the encoder stops first (the recording closes with
    it), then one commit declares recording off, the broadcast finished and the stream disabled."""
    t = tutorial
    t.write("settings.yaml", SETTINGS)
    t.write("stream.yaml", stream(active=True))
    t.write("broadcast.yaml", broadcast("pending"))
    t.apply()
    sid = t.stream("test_stream")["id"]
    t.control(f"streams/{sid}/connect")
    t.write("broadcast.yaml", broadcast("live"))
    t.write("stream.yaml", stream(active=True, recording=True))
    t.apply()
    assert t.stream("test_stream")["recording"] is True

    t.control(f"streams/{sid}/disconnect")
    t.hooks.wait_for("stream", lambda s: s["id"] == sid and s["live"] is False)
    t.write("stream.yaml", stream(active=False, recording=False))
    t.write("broadcast.yaml", broadcast("finished"))
    t.apply()
    paths = [p for _m, p, _ in t.writes()]
    assert paths == [
        f"/streaming/broadcasts/{t.broadcast('test_broadcast')['id']}",  # finished first
        f"/streaming/streams/{sid}",  # then the stream is disabled
    ]
    assert t.broadcast("test_broadcast")["status"] == "finished"
    assert t.stream("test_stream")["active"] is False
