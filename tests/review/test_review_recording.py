"""Recording as a desired state, end to end: start on a live stream, auto_record, a stop applied
while live (it cuts nobody), and what happens once the encoder disconnects."""

from __future__ import annotations

from typing import Any

from review_support import converged, mutating, owned

SETTINGS = "kind: Settings\nname: prod\n"


def stream(spec: str) -> str:
    return SETTINGS + f"---\nkind: Stream\nname: cam\nspec: {{active: true, {spec}}}\n"


def test_declared_recording_starts_on_a_live_stream_and_is_silent_after(
    sim: Any, api: Any, cli: Any, write: Any
) -> None:
    path = write(stream("recording: true"))
    first = cli("apply", "--yes", path)
    assert first.exit_code == 0, first.output
    assert "recording requested; it starts when an encoder is connected" in first.output
    cam = owned(api, "prod")["cam"]
    assert cam["recording"] is False
    converged(cli, sim, path)  # no encoder yet: a warning, never a request

    sim.connect(cam["id"])
    sim.clear_log()
    run = cli("apply", "--yes", path)
    assert run.exit_code == 0, run.output
    starts = [m for m in mutating(sim) if m.endswith(f"{cam['id']}/start_recording")]
    assert len(starts) == 1, mutating(sim)
    assert api.get_stream(cam["id"])["recording"] is True
    converged(cli, sim, path)

    # the encoder leaves: the platform closes the recording; nothing to do, no restart attempt
    sim.disconnect(cam["id"])
    sim.advance(60)
    assert api.get_stream(cam["id"])["recording"] is False
    converged(cli, sim, path)
    assert len(api.list_videos(stream_id=cam["id"])) == 1


def test_auto_record_records_without_any_request(sim: Any, api: Any, cli: Any, write: Any) -> None:
    path = write(stream("auto_record: true"))
    assert cli("apply", "--yes", path).exit_code == 0
    cam = owned(api, "prod")["cam"]
    sim.connect(cam["id"])
    assert api.get_stream(cam["id"])["recording"] is True
    converged(cli, sim, path)


def test_a_stop_recording_on_a_live_stream_is_applied_and_keeps_the_show_on(
    sim: Any, api: Any, cli: Any, write: Any
) -> None:
    """Stopping a recording cuts no viewer and no encoder (issue 8 item 4): applied while live."""
    path = write(stream("recording: true"))
    assert cli("apply", "--yes", path).exit_code == 0
    cam = owned(api, "prod")["cam"]
    sim.connect(cam["id"])
    assert cli("apply", "--yes", path).exit_code == 0
    assert api.get_stream(cam["id"])["recording"] is True

    path = write(stream("recording: false"))
    sim.clear_log()
    run = cli("apply", "--yes", path)
    assert run.exit_code == 0, run.output
    assert [m for m in mutating(sim) if "recording" in m] == [
        f"PUT /streaming/streams/{cam['id']}/stop_recording"
    ]
    assert api.get_stream(cam["id"])["recording"] is False
    assert api.get_stream(cam["id"])["live"] is True  # stopping the recording kept the show on
    converged(cli, sim, path)
    sim.disconnect(cam["id"])
    converged(cli, sim, path)


def test_auto_record_with_recording_false_is_refused_before_any_request(
    sim: Any, cli: Any, write: Any
) -> None:
    """Contradictory manifest: the platform records (auto_record) and the manifest says not to;
    it would hold a stop on every live run. Refused at load time, nothing sent."""
    path = write(stream("auto_record: true, recording: false"))
    run = cli("apply", "--yes", path)
    assert run.exit_code == 1
    assert "spec.recording: recording: false contradicts auto_record: true" in run.output
    assert sim.requests() == []
