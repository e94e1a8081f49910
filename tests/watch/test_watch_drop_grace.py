"""A short encoder drop under `watch` is an interruption, not the end of the show: with the
reuse committed and held while live (finish launch-show, move studio-a to dt1, encore-show
live), a 3 s drop let watch finish the show and move the stream within a second (an explorer
saw it). Within the drop grace nothing is taken off air; once the stream stayed down longer,
watch looks again by itself and the handover runs."""

from __future__ import annotations

import time

import pytest

from tests.watch.conftest import Session, wait_until

pytestmark = pytest.mark.port

MANIFESTS = """\
kind: Settings
name: watched
---
kind: Stream
name: studio-a
spec:
  name: Studio A
  active: true
  transcoding_region: {region}
---
kind: Broadcast
name: launch-show
spec:
  name: Launch show
  status: {launch}
  streams: [studio-a]
---
kind: Broadcast
name: encore-show
spec:
  name: Encore show
  status: {encore}
  streams: [studio-a]
"""


def handover_writes(session: Session) -> list[str]:
    return [
        f"{r['method']} {r['path']}"
        for r in session.requests()
        if r["method"] == "PATCH" and "reconciler-lock" not in str(r.get("body"))
    ]


def test_a_short_drop_finishes_nothing_and_a_real_end_hands_over(session: Session) -> None:
    s = session
    s.write("all.yaml", MANIFESTS.format(region="ix1", launch="live", encore="pending"))
    watch = s.watch("--lock-ttl", "30", "--drop-grace", "6")
    watch.wait_ready()
    sid = s.stream("Studio A")["id"]
    launch, encore = s.broadcast("Launch show")["id"], s.broadcast("Encore show")["id"]
    s.control(f"streams/{sid}/connect")
    wait_until("launch-show live", lambda: s.status_of(launch)() == "live")
    s.write("all.yaml", MANIFESTS.format(region="dt1", launch="finished", encore="live"))
    wait_until(
        "the reuse held while live", lambda: "held" in watch.log and "Launch show" in watch.log
    )
    s.clear_log()

    s.control(f"streams/{sid}/disconnect")  # a 3 s drop: the encoder comes back
    time.sleep(3)
    assert handover_writes(s) == [], watch.log
    s.control(f"streams/{sid}/connect")
    assert s.status_of(launch)() == "live" and s.status_of(encore)() == "pending"
    assert s.get(f"/streaming/streams/{sid}")["transcoding_region"] == "ix1"

    s.control(f"streams/{sid}/disconnect")  # the show is over: the stream stays down
    wait_until("encore-show live", lambda: s.status_of(encore)() == "live", timeout=20)
    assert s.status_of(launch)() == "finished"
    assert s.get(f"/streaming/streams/{sid}")["transcoding_region"] == "dt1"
    assert "within the drop grace" in watch.log
    assert watch.stop() == 0
