"""Live behaviour: encoders, the control API, recordings, videos and their processing, the clock."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from reconciler.simulator import Simulator, SimulatorConfig
from tests.simulator.helpers import KEY, client, new_stream

START = datetime(2030, 1, 1, tzinfo=UTC)


@pytest.fixture
def frozen() -> Iterator[Simulator]:
    sim = Simulator(SimulatorConfig(api_key=KEY, start_time=START))
    yield sim
    sim.close()


@pytest.fixture
def c(frozen: Simulator) -> Iterator[httpx.Client]:
    with client(frozen) as http:
        yield http


def test_connect_over_control_api_sets_live_and_timestamps(
    c: httpx.Client, frozen: Simulator
) -> None:
    sid = new_stream(c, active=True, transcoding_region="ix1")["id"]
    live = c.post(f"/_simulator/streams/{sid}/connect", json={}).json()
    assert live["live"] is True and live["backup_live"] is False
    assert live["started_at_primary"] == "2030-01-01T00:00:00.000Z"
    assert live["active_ingest_region_primary"] == "ix1" and live["stream_source_type"] == "rtmp"
    backup = c.post(f"/_simulator/streams/{sid}/connect", json={"backup": True}).json()
    assert backup["backup_live"] is True and backup["active_ingest_region_backup"] == "ix1"
    c.post("/_simulator/clock/advance", json={"seconds": 90})
    stopped = c.post(f"/_simulator/streams/{sid}/disconnect", json={}).json()
    assert stopped["live"] is False and stopped["backup_live"] is True
    assert stopped["finished_at_primary"] == "2030-01-01T00:01:30.000Z"
    assert frozen.now() == START + timedelta(seconds=90)
    assert c.get("/_simulator/clock").json() == {"now": "2030-01-01T00:01:30.000Z"}


def test_inactive_stream_refuses_push_until_activated(c: httpx.Client, frozen: Simulator) -> None:
    sid = new_stream(c)["id"]
    assert frozen.connect(sid)["live"] is False
    patched = c.patch(f"/streaming/streams/{sid}", json={"stream": {"active": True}}).json()
    assert patched["live"] is True
    assert c.patch(f"/streaming/streams/{sid}", json={"active": False}).json()["live"] is False


def test_recording_needs_a_live_stream(c: httpx.Client, frozen: Simulator) -> None:
    sid = new_stream(c, active=True)["id"]
    refused = c.put(f"/streaming/streams/{sid}/start_recording")
    assert refused.status_code == 422 and refused.json()["errors"]
    assert c.get(f"/streaming/streams/{sid}").json()["recording"] is False
    empty = c.put(f"/streaming/streams/{sid}/stop_recording")
    assert empty.status_code == 200 and empty.content == b""
    frozen.connect(sid, backup=True)  # backup ingest alone is enough
    assert c.put(f"/streaming/streams/{sid}/start_recording").status_code == 204
    frozen.advance(12)
    stream = c.get(f"/streaming/streams/{sid}").json()
    assert stream["recording"] is True and stream["recording_duration"] == 12


def test_auto_record_starts_on_connect_and_disconnect_makes_the_video(
    c: httpx.Client, frozen: Simulator
) -> None:
    sid = new_stream(c, name="show", active=True, auto_record=True, client_user_id=42)["id"]
    assert frozen.connect(sid)["recording"] is True
    frozen.advance(3600)
    assert frozen.disconnect(sid)["recording"] is False
    videos = c.get("/streaming/videos", params={"stream_id": sid}).json()
    assert len(videos) == 1
    video = videos[0]
    assert video["name"] == "Stream Record: show, 2030-01-01 01:00:00 +0000"
    assert video["duration"] == 3_600_000 and video["status"] == "pending"
    assert video["client_user_id"] == 42 and "sprite" not in video  # list items are short
    assert c.get("/streaming/videos", params={"client_user_id": 41}).json() == []
    assert len(c.get("/streaming/videos", params={"client_user_id": 42}).json()) == 1


def test_video_processing_follows_the_clock(c: httpx.Client, frozen: Simulator) -> None:
    sid = new_stream(c, active=True)["id"]
    frozen.connect(sid)
    c.put(f"/streaming/streams/{sid}/start_recording")
    frozen.advance(10)
    vid = c.put(f"/streaming/streams/{sid}/stop_recording").json()["id"]
    statuses = []
    for step in (0, 20, 40):
        frozen.advance(step)
        statuses.append(c.get(f"/streaming/videos/{vid}").json()["status"])
    assert statuses == ["pending", "viewable", "ready"]
    assert [v["id"] for v in c.get("/streaming/videos", params={"status": "ready"}).json()] == [vid]


def test_videos_pagination(c: httpx.Client, frozen: Simulator) -> None:
    sid = new_stream(c, active=True)["id"]
    frozen.connect(sid)
    for _ in range(3):
        c.put(f"/streaming/streams/{sid}/start_recording")
        c.put(f"/streaming/streams/{sid}/stop_recording")
    page = c.get("/streaming/videos", params={"per_page": 2, "page": 2}).json()
    assert len(page) == 1
    assert c.get("/streaming/videos", params={"per_page": 2, "page": 3}).json() == []


def test_deleting_a_recording_stream_closes_its_video(c: httpx.Client, frozen: Simulator) -> None:
    sid = new_stream(c, active=True, auto_record=True)["id"]
    frozen.connect(sid)
    frozen.advance(5)
    c.delete(f"/streaming/streams/{sid}")
    videos = c.get("/streaming/videos").json()
    assert [v["stream_id"] for v in videos] == [sid]


def test_reset_push_token_changes_token_and_drops_ingest(
    c: httpx.Client, frozen: Simulator
) -> None:
    stream = new_stream(c, active=True)
    frozen.connect(stream["id"])
    reset = c.post(f"/streaming/streams/{stream['id']}/reset_push_token").json()
    assert reset["token"] != stream["token"] and reset["token"] in reset["push_url"]
    assert reset["live"] is False


def test_with_broadcasts_adds_broadcast_objects(c: httpx.Client) -> None:
    sid = new_stream(c)["id"]
    c.post("/streaming/broadcasts", json={"name": "b", "status": "live", "stream_ids": [sid]})
    plain = c.get("/streaming/streams").json()[0]
    rich = c.get("/streaming/streams", params={"with_broadcasts": 1}).json()[0]
    assert "broadcasts" not in plain
    assert [b["name"] for b in rich["broadcasts"]] == ["b"]


def test_request_log_counters_and_reset(c: httpx.Client, frozen: Simulator) -> None:
    sid = new_stream(c, client_entity_data='{"a": 1}')["id"]
    c.get(f"/streaming/streams/{sid}")
    c.get(f"/streaming/streams/{sid}")
    c.get("/streaming/streams", params={"page": 1})
    c.get("/_simulator/counters")  # control calls are not logged
    log = frozen.requests()
    assert [(e["method"], e["path"], e["status"]) for e in log] == [
        ("POST", "/streaming/streams", 200),
        ("GET", f"/streaming/streams/{sid}", 200),
        ("GET", f"/streaming/streams/{sid}", 200),
        ("GET", "/streaming/streams", 200),
    ]
    assert log[0]["body"] == {"name": "s", "client_entity_data": '{"a": 1}'}
    assert log[3]["query"] == {"page": "1"}
    assert frozen.counters() == {
        "POST /streaming/streams": 1,
        "GET /streaming/streams/{id}": 2,
        "GET /streaming/streams": 1,
    }
    assert c.get("/_simulator/counters").json() == frozen.counters()
    assert c.get("/_simulator/requests").json() == log
    assert c.delete("/_simulator/requests").status_code == 204
    assert frozen.requests() == [] and frozen.counters() == {}
    assert c.post("/_simulator/reset").status_code == 204
    assert c.get("/streaming/streams").json() == []
    assert c.get("/_simulator/webhooks").json() == []


def test_long_recordings_are_cut_into_four_hour_videos(c: httpx.Client, frozen: Simulator) -> None:
    sid = new_stream(c, active=True, auto_record=True)["id"]
    frozen.connect(sid)
    frozen.advance(9 * 3600)
    stream = c.get(f"/streaming/streams/{sid}").json()
    videos = c.get("/streaming/videos", params={"stream_id": sid}).json()
    assert [v["duration"] for v in videos] == [4 * 3_600_000] * 2
    assert [v["status"] for v in videos] == ["ready", "ready"]
    assert stream["recording"] is True and stream["recording_duration"] == 3600


def test_backup_ingest_changes_send_stream_webhooks(frozen: Simulator, c: httpx.Client) -> None:
    sid = new_stream(c, active=True)["id"]
    frozen.connect(sid)
    before = len(frozen.webhooks())
    frozen.connect(sid, backup=True)
    frozen.disconnect(sid, backup=True)
    hooks = [w["payload"]["message"]["stream"] for w in frozen.webhooks()[before:]]
    assert [(h["live"], h["backup_live"]) for h in hooks] == [(True, True), (True, False)]
