"""The platform tutorial's 19 steps and special cases, played on the simulator, with the webhooks
it sends checked at a real loopback receiver."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from reconciler.simulator import Simulator, SimulatorConfig
from tests.simulator.helpers import KEY, client, webhook_receiver

START = datetime(2022, 6, 3, 13, 24, 0, tzinfo=UTC)


def summary(hook: dict[str, Any]) -> tuple[Any, ...]:
    kind, message = hook["type"], hook["message"]
    if kind == "stream":
        s = message["stream"]
        return ("stream", s["id"], s["live"], s["recording"])
    if kind == "broadcast":
        return ("broadcast", message["broadcast"]["id"], message["broadcast"]["status"])
    return (kind, message["video"]["id"], message["video"]["status"])


def deduped(hooks: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """Consecutive equal summaries collapsed (ingest start and transcoding start both say live)."""
    out: list[tuple[Any, ...]] = []
    for hook in hooks:
        item = summary(hook)
        if not out or out[-1] != item:
            out.append(item)
    return out


def test_all_19_steps_with_webhooks() -> None:
    with webhook_receiver() as (url, received):
        sim = Simulator(SimulatorConfig(api_key=KEY, webhook_url=url, start_time=START))
        c = client(sim)
        # Step 1: create a stream, inactive, in a chosen region (wrapped body as in the tutorial).
        body = {"stream": {"name": "test_stream", "pull": False, "uri": None, "active": False,
                           "transcoding_region": "ix1", "auto_record": False, "webrtc": False,
                           "dvr_enabled": False, "cdn_id": 53949,
                           "projection": "regular"}}  # fmt: skip
        stream = c.post("/streaming/streams", json=body).json()
        sid = stream["id"]
        assert stream["active"] is False and "vp-push-ix1" in stream["push_url"]
        # Step 2: a pending broadcast bound to the stream.
        body = {"broadcast": {"name": "test_broadcast", "status": "pending", "share_url": "",
                              "custom_iframe_url": "", "show_dvr_after_finish": False,
                              "pending_message": "Please wait ...", "ad_id": None,
                              "stream_ids": [sid]}}  # fmt: skip
        broadcast = c.post("/streaming/broadcasts", json=body).json()
        bid = broadcast["id"]
        assert broadcast["status"] == "pending" and broadcast["stream_ids"] == [sid]
        sim.connect(sid)  # the user's encoder pushes; refused while the stream is inactive
        assert received == []
        # Step 3: enable the stream -> Step 4: webhook live=true.
        assert c.patch(f"/streaming/streams/{sid}", json={"stream": {"active": True}}).json()[
            "active"
        ]
        # Step 5: broadcast live -> Step 6: webhook.
        assert c.patch(f"/streaming/broadcasts/{bid}", json={"broadcast": {"status": "live"}})
        # Step 7: start recording (204) -> Step 8: webhook recording=true.
        sim.advance(29)
        assert c.put(f"/streaming/streams/{sid}/start_recording").status_code == 204
        sim.advance(47)
        # Step 9: stop recording returns the video -> Steps 10 and 11.
        video = c.put(f"/streaming/streams/{sid}/stop_recording").json()
        vid = video["id"]
        assert video["name"] == "Stream Record: test_stream, 2022-06-03 13:25:16 +0000"
        assert video["recording_started_at"] == "2022-06-03T13:24:29.000Z"
        assert video["created_at"] == "2022-06-03T13:25:16.000Z"
        # Step 12: broadcast finished -> Step 13.
        c.patch(f"/streaming/broadcasts/{bid}", json={"broadcast": {"status": "finished"}})
        # Step 14: disable the stream -> Step 15: webhook live=false.
        assert (
            c.patch(f"/streaming/streams/{sid}", json={"stream": {"active": False}}).json()["live"]
            is False
        )
        # Step 16: delete the broadcast.
        assert c.delete(f"/streaming/broadcasts/{bid}").status_code == 204
        # Steps 17 and 18: the video becomes viewable, then ready, as time passes.
        sim.advance(30)
        sim.advance(60)
        # Step 19: video information.
        info = c.get(f"/streaming/videos/{vid}").json()
        c.close()
        sim.close()
    assert deduped(received) == [
        ("stream", sid, True, False),  # 4
        ("broadcast", bid, "live"),  # 6
        ("stream", sid, True, True),  # 8
        ("stream", sid, True, False),  # 10
        ("video", vid, "pending"),  # 11
        ("broadcast", bid, "finished"),  # 13
        ("stream", sid, False, False),  # 15
        ("video", vid, "viewable"),  # 17
        ("video", vid, "ready"),  # 18
    ]
    ingest, transcoding = received[0]["message"]["stream"], received[1]["message"]["stream"]
    assert (ingest["transcoding"], transcoding["transcoding"]) == (False, True)
    viewable = next(h for h in received if summary(h)[2:] == ("viewable",))
    assert [r["status"] for r in viewable["message"]["video"]["converted_videos"]] == [
        "complete", "processing", "processing", "processing"
    ]  # fmt: skip
    assert info["status"] == "ready" and info["client_id"] == 58725
    assert info["stream_id"] == sid and info["duration"] == 47000
    assert {r["status"] for r in info["converted_videos"]} == {"complete"}
    assert info["sprite"].endswith("sprite.jpg")


def test_reuse_of_a_stream_changes_region_keeps_id_and_token(sim: Simulator) -> None:
    with client(sim) as c:
        stream = c.post("/streaming/streams", json={"name": "s", "transcoding_region": "ix1"})
        before = stream.json()
        after = c.patch(
            f"/streaming/streams/{before['id']}", json={"stream": {"transcoding_region": "dt1"}}
        ).json()
    assert (after["id"], after["token"]) == (before["id"], before["token"])
    assert after["push_url"] == f"rtmp://vp-push-dt1.gvideo.co/in/{before['id']}?{before['token']}"
    assert after["push_url_srt"].startswith("srt://vp-push-dt1-srt.gvideo.co:5001?streamid=")
    assert after["transcoding_region"] == "dt1"


def test_interruption_sends_live_false_then_live_again_and_broadcast_can_pause(
    sim: Simulator,
) -> None:
    with client(sim) as c:
        sid = c.post("/streaming/streams", json={"name": "s", "active": True}).json()["id"]
        bid = c.post(
            "/streaming/broadcasts", json={"name": "b", "status": "live", "stream_ids": [sid]}
        ).json()["id"]
        sim.connect(sid)
        c.put(f"/streaming/streams/{sid}/start_recording")
        sim.clear_log()
        before = len(sim.webhooks())
        stream = sim.interrupt(sid, 60)
        paused = c.patch(f"/streaming/broadcasts/{bid}", json={"broadcast": {"status": "paused"}})
        videos = c.get("/streaming/videos", params={"stream_id": sid}).json()
    hooks = [summary(w["payload"]) for w in sim.webhooks()[before:]]
    assert ("stream", sid, False, False) in hooks  # the drop, as in the tutorial
    assert hooks[-1] == ("broadcast", bid, "paused")
    assert stream["live"] is True and stream["recording"] is False
    assert paused.json()["status"] == "paused"
    assert len(videos) == 1  # a long drop closes the recording: the data up to the interruption


def test_short_interruption_keeps_recording_in_one_file(sim: Simulator) -> None:
    with client(sim) as c:
        sid = c.post("/streaming/streams", json={"name": "s", "active": True}).json()["id"]
        sim.connect(sid)
        c.put(f"/streaming/streams/{sid}/start_recording")
        stream = sim.interrupt(sid, 5)
        videos = c.get("/streaming/videos", params={"stream_id": sid}).json()
    assert stream["live"] is True and stream["recording"] is True
    assert videos == []


def test_stream_deletion_keeps_videos_and_video_delete_sends_webhook(sim: Simulator) -> None:
    with client(sim) as c:
        sid = c.post("/streaming/streams", json={"name": "s", "active": True}).json()["id"]
        sim.connect(sid)
        c.put(f"/streaming/streams/{sid}/start_recording")
        vid = c.put(f"/streaming/streams/{sid}/stop_recording").json()["id"]
        assert c.delete(f"/streaming/streams/{sid}").status_code == 204
        assert c.get(f"/streaming/videos/{vid}").json()["stream_id"] == sid
        assert c.delete(f"/streaming/videos/{vid}").status_code == 204
        assert c.get(f"/streaming/videos/{vid}").status_code == 404
    last = sim.webhooks()[-1]["payload"]
    assert last["type"] == "video_delete" and last["message"]["video"]["id"] == vid
    assert last["message"]["video"]["deleted_at"].endswith("Z")


def test_webhook_delivery_failure_is_logged_not_raised() -> None:
    with webhook_receiver(status=500) as (url, received):
        sim = Simulator(SimulatorConfig(api_key=KEY, webhook_url=url))
        with client(sim) as c:
            sid = c.post("/streaming/streams", json={"name": "s", "active": True}).json()["id"]
            sim.connect(sid)
            assert c.get(f"/streaming/streams/{sid}").json()["live"] is True
        sim.close()
    assert received and all(not w["delivered"] for w in sim.webhooks())
    assert sim.webhooks()[0]["status"] == 500
    unreachable = Simulator(SimulatorConfig(api_key=KEY, webhook_url="http://127.0.0.1:9/none"))
    with client(unreachable) as c:
        sid = c.post("/streaming/streams", json={"name": "s", "active": True}).json()["id"]
        unreachable.connect(sid)
    assert unreachable.webhooks()[0]["delivered"] is False
    assert unreachable.webhooks()[0]["error"]
    unreachable.close()


def test_in_process_sink_receives_payloads() -> None:
    got: list[dict[str, Any]] = []
    sim = Simulator(SimulatorConfig(api_key=KEY, webhook_sink=got.append))
    with client(sim) as c:
        sid = c.post("/streaming/streams", json={"name": "s", "active": True}).json()["id"]
        sim.connect(sid)
    assert [summary(p) for p in got] == [("stream", sid, True, False)] * 2
    sim.close()
