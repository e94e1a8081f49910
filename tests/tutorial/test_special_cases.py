"""The tutorial's three special cases through the real CLI on a served simulator: reuse of a stream
(with the region change, in the tutorial's order, keeping id and push token), interruption during
streaming (paused on the drop, live on return; a show that never started is never paused), and
stale stream deletion by the platform's clock."""

from __future__ import annotations

import pytest

from tests.tutorial.conftest import Tutorial

pytestmark = pytest.mark.port

SETTINGS = "kind: Settings\nname: tutorial\n"


def studio(region: str) -> str:
    return f"""\
kind: Stream
name: studio-a
spec:
  name: Studio A
  active: true
  pull: false
  transcoding_region: {region}
"""


def show(key: str, title: str, status: str, pause: bool = False) -> str:
    policy = "policy:\n  pause_on_interruption: true\n" if pause else ""
    return f"""\
kind: Broadcast
name: {key}
{policy}spec:
  name: {title}
  status: {status}
  streams: [studio-a]
"""


def shows(launch: str, encore: str) -> str:
    return (
        show("launch-show", "Launch show", launch)
        + "---\n"
        + show("encore-show", "Encore show", encore, pause=True)
    )


def test_reuse_of_a_stream_in_the_tutorial_order(tutorial: Tutorial) -> None:
    t = tutorial
    t.write("settings.yaml", SETTINGS)
    t.write("streams.yaml", studio("ix1"))
    t.write("broadcasts.yaml", shows("live", "pending"))
    t.apply()
    before = t.stream("Studio A")
    sid = before["id"]
    t.control(f"streams/{sid}/connect")
    t.apply()  # launch-show was already declared live: nothing left to do
    launch, encore = t.broadcast("Launch show"), t.broadcast("Encore show")
    assert (launch["status"], encore["status"]) == ("live", "pending")

    # The show ends: the encoder stops, and one commit reuses the stream for the encore in dt1.
    t.control(f"streams/{sid}/disconnect")
    t.write("streams.yaml", studio("dt1"))
    t.write("broadcasts.yaml", shows("finished", "live"))
    t.apply()
    assert [(m, p) for m, p, _ in t.writes()] == [
        ("PATCH", f"/streaming/broadcasts/{launch['id']}"),  # 1. the leaving show finishes
        ("PATCH", f"/streaming/streams/{sid}"),  # 2. then the stream's region
        ("PATCH", f"/streaming/broadcasts/{encore['id']}"),  # 3. then the next show goes live
    ]
    after = t.stream("Studio A")
    assert after["id"] == sid and after["transcoding_region"] == "dt1"
    token = before["push_url"].rsplit("?", 1)[1]
    assert after["push_url"].endswith(token) and "dt1" in after["push_url"]
    assert t.broadcast("Encore show")["status"] == "live"
    assert t.broadcast("Launch show")["status"] == "finished"

    # The encore has not been on air yet: it is waiting for its encoder, never "interrupted".
    t.apply()
    assert t.writes() == []
    assert t.broadcast("Encore show")["status"] == "live"


def test_interruption_pauses_and_resumes_its_own_show(tutorial: Tutorial) -> None:
    t = tutorial
    t.write("settings.yaml", SETTINGS)
    t.write("streams.yaml", studio("ix1"))
    t.write("broadcasts.yaml", show("encore-show", "Encore show", "live", pause=True))
    t.apply()
    sid, bid = t.stream("Studio A")["id"], t.broadcast("Encore show")["id"]
    # A show that never started is never paused, however often apply runs.
    t.apply()
    assert t.broadcast("Encore show")["status"] == "live"

    t.control(f"streams/{sid}/connect")
    t.apply()
    t.control(f"streams/{sid}/disconnect")  # the interruption
    t.hooks.wait_for("stream", lambda s: s["id"] == sid and s["live"] is False)
    t.apply()
    assert t.broadcast("Encore show")["status"] == "paused"
    t.hooks.wait_for("broadcast", lambda b: b["id"] == bid and b["status"] == "paused")

    t.control(f"streams/{sid}/connect")  # the encoder returns
    t.apply()
    assert t.broadcast("Encore show")["status"] == "live"
    t.hooks.wait_for("broadcast", lambda b: b["id"] == bid and b["status"] == "live")


def test_stale_stream_deletion_by_the_platform_clock(tutorial: Tutorial) -> None:
    t = tutorial
    (t.manifests / "active-users.txt").write_text("42\n")
    t.write("settings.yaml", SETTINGS)
    t.write("streams.yaml", studio("ix1"))
    t.write(
        "cleanup.yaml",
        """\
kind: Cleanup
name: stale-user-streams
spec:
  idle_for: 30d
  active_users: {file: active-users.txt}
  name_pattern: "user-*"
""",
    )
    t.apply()
    # Streams made by the app for its users, not by these manifests.
    made = {}
    for name, user in (("user-gone", 7), ("user-active", 42)):
        answer = t.http.post(
            "/streaming/streams",
            json={"stream": {"name": name, "client_user_id": user}},
            headers={"Authorization": f"APIKey {t.key}"},
        )
        made[name] = answer.json()["id"]
    t.apply()  # nothing is stale yet by the platform's clock
    assert {s["name"] for s in t.streams()} >= {"user-gone", "user-active"}

    t.control("clock/advance", {"seconds": 31 * 86400})
    t.apply()
    names = {s["name"] for s in t.streams()}
    assert "user-gone" not in names and {"user-active", "Studio A"} <= names
    assert ("DELETE", f"/streaming/streams/{made['user-gone']}") in [
        (m, p) for m, p, _ in t.writes()
    ]
