"""The interruption evidence (`plan/interruption.py`): what the marker records when a broadcast
goes live, and when a stream that is down now counts as dropped since."""

from __future__ import annotations

from reconciler.model.live import LiveStream
from reconciler.plan.interruption import dropped_since, evidence_record

T1 = "2026-12-02T10:00:05.000Z"


def cam(live: bool, **stamps: str) -> LiveStream:
    return LiveStream.parse({"id": 1, "name": "cam", "active": True, "live": live, **stamps})


def test_a_drop_in_the_same_second_as_the_record_is_still_a_drop() -> None:
    """The platform's timestamps have whole seconds: on air when the show went live, the record
    says so, and any later "down" is a drop since, whatever the timestamps say."""
    record = evidence_record(cam(True, started_at_primary=T1))
    assert record.startswith(T1)
    down = cam(False, started_at_primary=T1, finished_at_primary=T1)
    assert dropped_since(down, record)


def test_a_show_set_live_while_its_stream_was_down_needs_a_connect_after_it() -> None:
    record = evidence_record(cam(False, finished_at_primary=T1))
    assert record == T1
    assert not dropped_since(cam(False, finished_at_primary=T1), record)  # never on air since
    later = "2026-12-02T10:00:09.000Z"
    assert dropped_since(cam(False, started_at_primary=later, finished_at_primary=later), record)


def test_no_record_is_no_evidence() -> None:
    assert not dropped_since(cam(False, started_at_primary=T1, finished_at_primary=T1), None)
