"""The platform's events through `reconciler watch` within seconds: an encoder drops (a
pause_on_interruption broadcast pauses) and returns (live again), each by one slice reconcile
of GETs and writes, never a list sweep per hint."""

from __future__ import annotations

import pytest

from tests.watch.conftest import Session, wait_until

pytestmark = pytest.mark.port


SETTINGS = "kind: Settings\nname: watched\n"
STUDIO = """\
kind: Stream
name: studio-a
spec:
  name: Studio A
  active: true
"""


def show(status: str, extra: str = "") -> str:
    return f"""\
kind: Broadcast
name: evening-show
policy:
  pause_on_interruption: true
{extra}spec:
  name: Evening show
  status: {status}
  streams: [studio-a]
"""


def test_an_interruption_pauses_the_show_and_the_return_resumes_it(session: Session) -> None:
    s = session
    s.write("all.yaml", SETTINGS + "---\n" + STUDIO + "---\n" + show("live"))
    watch = s.watch("--lock-ttl", "30")
    watch.wait_ready()
    sid, bid = s.stream("Studio A")["id"], s.broadcast("Evening show")["id"]
    s.control(f"streams/{sid}/connect")
    status = s.status_of(bid)
    wait_until("the show live", lambda: status() == "live")
    s.clear_log()

    s.control(f"streams/{sid}/disconnect")
    wait_until("the show paused", lambda: status() == "paused")
    s.control(f"streams/{sid}/connect")
    wait_until("the show live again", lambda: status() == "live")

    writes = [(r["method"], r["path"], r["body"]["broadcast"]["status"])
              for r in s.requests() if r["path"] == f"/streaming/broadcasts/{bid}"
              and r["method"] != "GET"]  # fmt: skip
    assert writes == [
        ("PATCH", f"/streaming/broadcasts/{bid}", "paused"),
        ("PATCH", f"/streaming/broadcasts/{bid}", "live"),
    ]
    assert s.list_sweeps() == []  # each hint: GETs of the stream and its broadcast, no sweep
    assert watch.metric("reconciler_watch_hints_received_total") >= 2
    assert watch.stop() == 0


def test_the_show_goes_live_when_the_encoder_connects(session: Session) -> None:
    s = session
    policy = "  go_live: when_on_air\n"
    s.write("all.yaml", SETTINGS + "---\n" + STUDIO + "---\n" + show("live", policy))
    watch = s.watch("--lock-ttl", "30")
    wait_until("watch ready", lambda: watch.readyz()["status"] == 200, timeout=10)
    sid, bid = s.stream("Studio A")["id"], s.broadcast("Evening show")["id"]
    status = s.status_of(bid)
    assert status() == "pending"  # declared live, waiting for its encoder
    s.clear_log()

    s.control(f"streams/{sid}/connect")  # the tutorial's step 4: the encoder connects
    wait_until("the show live", lambda: status() == "live")
    s.control(f"streams/{sid}/disconnect")
    wait_until("the show paused", lambda: status() == "paused")
    s.control(f"streams/{sid}/connect")
    wait_until("the show live again", lambda: status() == "live")
    assert s.list_sweeps() == []
    assert watch.stop() == 0
