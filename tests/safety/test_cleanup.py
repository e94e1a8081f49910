"""Unit tests of stale stream selection: every rule, the cap, recordings, and failed reads."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from safety_factories import (
    cleanup_policy,
    desired_state,
    desired_stream,
    live_broadcast,
    live_state,
    live_stream,
)

from reconciler.errors import ServerError
from reconciler.model.changes import Action, Change, Plan, Resource, Stage
from reconciler.model.desired import DesiredStream
from reconciler.model.live import LiveVideo
from reconciler.model.marker import LOCK_KEY
from reconciler.safety.cleanup import (
    CleanupSelection,
    candidates_needing_videos,
    cleanup_recheck,
    in_use_now,
    needs_videos,
    plan_cleanup,
    read_videos,
    select_cleanup,
    with_cleanup,
)

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
OLD = "2026-10-15T08:00:00Z"  # 41 days before NOW
RECENT = "2026-11-20T08:00:00Z"


def selected_ids(changes: tuple[Any, ...]) -> list[int]:
    return [c.target_id for c in changes if c.action is Action.CLEANUP]


def test_mixed_account_selects_only_unmanaged_idle_unused_streams() -> None:
    streams = [
        live_stream(1, "stale", finished_at_primary=OLD, started_at_primary=OLD),
        live_stream(2, "recent", finished_at_primary=RECENT),
        live_stream(3, "never-used", created_at="2026-09-01T00:00:00Z"),
        live_stream(4, "ours", key="ours", finished_at_primary=OLD),
        live_stream(5, "theirs", key="theirs", set_name="other", finished_at_primary=OLD),
        live_stream(6, "live-now", started_at_primary=OLD, live=True),
        live_stream(7, "backup-now", finished_at_primary=OLD, backup_live=True),
        live_stream(8, "reconciler-lock: prod", user_data={LOCK_KEY: {"set": "prod"}}),
        live_stream(9, "adopted", finished_at_primary=OLD),
        live_stream(10, "scheduled", finished_at_primary=OLD),
        live_stream(11, "past-show", finished_at_primary=OLD),
        live_stream(12, "recording", finished_at_primary=OLD, recording=True),
    ]
    broadcasts = [
        live_broadcast(20, "next", [10], "pending"),
        live_broadcast(21, "p", [11], "finished"),
    ]
    adopted = DesiredStream(key="adopted", fields={"name": "adopted"}, adopt_id=9)
    desired = desired_state([adopted, desired_stream("ours")], cleanups=[cleanup_policy()])
    changes = plan_cleanup(desired, live_state(streams, broadcasts), now=NOW, active_users={})
    assert selected_ids(changes) == [3, 1, 11]  # oldest first
    first = changes[1]
    assert first.resource is Resource.STREAM and first.key == "#1" and first.title == "stale"
    assert first.stage is Stage.CLEANUP
    assert first.reason == "Cleanup 'stale': idle 41d (last session ended 2026-10-15)"
    assert changes[0].reason == "Cleanup 'stale': idle 85d (never used, created 2026-09-01)"


def test_idle_time_is_measured_from_the_latest_session_moment() -> None:
    restarted = live_stream(1, "s", finished_at_primary=OLD, started_at_primary=RECENT)
    backup = live_stream(2, "b", finished_at_primary=OLD, started_at_backup=RECENT)
    exactly = live_stream(3, "edge", finished_at_primary="2026-10-26T12:00:00Z")  # exactly 30d
    undated = live_stream(4, "undated", created_at=None)
    desired = desired_state(cleanups=[cleanup_policy()])
    live = live_state([restarted, backup, exactly, undated])
    selection = select_cleanup(desired, live, now=NOW, active_users={})
    assert selection.changes == ()
    assert selection.notes == (
        "Cleanup 'stale': 1 stream(s) have no readable created_at or session time and are never "
        "selected (#4)",
    )


def test_active_users_rule_spares_active_users_and_streams_without_a_user() -> None:
    streams = [
        live_stream(1, "gone-user", client_user_id=17, finished_at_primary=OLD),
        live_stream(2, "active-user", client_user_id=2, finished_at_primary=OLD),
        live_stream(3, "no-user", finished_at_primary=OLD),
    ]
    desired = desired_state(cleanups=[cleanup_policy(users_file="users.txt")])
    users = {"stale": frozenset({1, 2, 3})}
    selection = select_cleanup(desired, live_state(streams), now=NOW, active_users=users)
    assert selected_ids(selection.changes) == [1]
    assert selection.changes[0].reason == (
        "Cleanup 'stale': idle 41d (last session ended 2026-10-15), client_user_id 17 not among "
        "3 active users"
    )
    assert selection.notes == (
        "Cleanup 'stale': 1 idle stream(s) have no client_user_id and are never selected by an "
        "active-users rule (#3)",
    )


def test_a_policy_whose_users_were_not_read_selects_nothing() -> None:
    desired = desired_state(cleanups=[cleanup_policy(users_file="users.txt")])
    live = live_state([live_stream(1, "x", client_user_id=5, finished_at_primary=OLD)])
    selection = select_cleanup(desired, live, now=NOW, active_users={})
    assert selection.changes == ()
    assert "its active users were not read" in selection.notes[0]


def test_name_pattern_limits_the_selection() -> None:
    streams = [
        live_stream(1, "user-17", finished_at_primary=OLD),
        live_stream(2, "studio", finished_at_primary=OLD),
    ]
    desired = desired_state(cleanups=[cleanup_policy(name_pattern="user-*")])
    changes = plan_cleanup(desired, live_state(streams), now=NOW, active_users={})
    assert selected_ids(changes) == [1]
    assert changes[0].reason.endswith("name matches 'user-*'")


def test_cap_takes_the_oldest_first_and_notes_the_rest() -> None:
    streams = [
        live_stream(i, f"s{i}", finished_at_primary=f"2026-09-{i:02d}T00:00:00Z")
        for i in range(1, 13)
    ]
    desired = desired_state(cleanups=[cleanup_policy(max_deletions=10)])
    selection = select_cleanup(desired, live_state(streams), now=NOW, active_users={})
    pending = [c for c in selection.changes if c.held is None]
    assert selected_ids(pending) == list(range(1, 11))
    # Beyond the cap: held like a prune beyond its cap (apply exits 3, never "matches" with
    # deletions left for the next plan).
    held = [c for c in selection.changes if c.held is not None]
    assert selected_ids(held) == [11, 12]
    assert held[0].held == (
        "cleanup cap: Cleanup 'stale' deletes at most 10 stream(s) per run (max_deletions), the "
        "oldest first; this one on a later run"
    )
    assert selection.notes == (
        "Cleanup 'stale': 2 more stale stream(s) match but max_deletions is 10; the oldest go "
        "first, the rest on later runs (#11, #12)",
    )


def test_a_stream_matched_by_two_policies_is_cleaned_once() -> None:
    streams = [live_stream(1, "user-1", finished_at_primary=OLD)]
    desired = desired_state(
        cleanups=[cleanup_policy("a", name_pattern="user-*"), cleanup_policy("b")]
    )
    changes = plan_cleanup(desired, live_state(streams), now=NOW, active_users={})
    assert [c.reason.split(":")[0] for c in changes] == ["Cleanup 'a'"]


def test_recordings_are_deleted_after_their_stream_and_depend_on_it() -> None:
    streams = [live_stream(1, "old", finished_at_primary=OLD)]
    desired = desired_state(cleanups=[cleanup_policy(delete_recordings=True)])
    listed = [{"id": 31, "name": "Stream Record: old", "stream_id": 1}, {"id": 30}]
    videos = {1: [LiveVideo.parse(v) for v in listed]}
    changes = plan_cleanup(desired, live_state(streams), now=NOW, active_users={}, videos=videos)
    assert [c.id for c in changes] == [
        "stream/#1/cleanup",
        "video/#30/delete_recording",
        "video/#31/delete_recording",
    ]
    assert changes[0].depends_on == ()
    assert [c.depends_on for c in changes[1:]] == [("stream/#1/cleanup",)] * 2
    assert changes[2].reason == "Cleanup 'stale': recording of stream 'old' (#1)"
    assert all(c.stage is Stage.CLEANUP and c.held is None for c in changes)


def test_a_stream_whose_recordings_were_not_read_is_held_not_deleted() -> None:
    streams = [live_stream(1, "old", finished_at_primary=OLD)]
    desired = desired_state(cleanups=[cleanup_policy(delete_recordings=True)])
    selection = select_cleanup(
        desired,
        live_state(streams),
        now=NOW,
        active_users={},
        videos={},
        video_errors={1: "GET /streaming/videos -> 500: boom"},
    )
    (held,) = selection.changes
    assert held.action is Action.CLEANUP
    assert held.held == (
        "its recordings could not be listed (GET /streaming/videos -> 500: boom); the stream is "
        "kept until they can be deleted with it"
    )


class FakeVideoAPI:
    def __init__(self, videos: list[dict[str, Any]], failing: set[int]) -> None:
        self.videos = videos
        self.failing = failing
        self.asked: list[int | None] = []

    def list_videos(self, *, stream_id: int | None = None) -> list[dict[str, Any]]:
        self.asked.append(stream_id)
        if stream_id in self.failing:
            raise ServerError("boom", method="GET", path="/streaming/videos", status=500)
        return self.videos  # ignores the filter, like a misbehaving server


def test_read_videos_keeps_only_the_streams_own_videos_and_records_failures() -> None:
    api = FakeVideoAPI([{"id": 1, "stream_id": 5}, {"id": 2, "stream_id": 6}], failing={7})
    reads = read_videos(api, [5, 7])  # type: ignore[arg-type]
    assert {sid: [v.raw for v in found] for sid, found in reads.videos.items()} == {
        5: [{"id": 1, "stream_id": 5}]
    }
    assert reads.errors == {7: "GET /streaming/videos -> 500: boom"}
    assert api.asked == [5, 7]


def test_videos_are_read_only_for_candidates_of_policies_that_delete_recordings() -> None:
    streams = [
        live_stream(1, "user-1", finished_at_primary=OLD),
        live_stream(2, "other", finished_at_primary=OLD),
        live_stream(3, "user-3", finished_at_primary=RECENT),
    ]
    keep_videos = cleanup_policy("users", name_pattern="user-*", delete_recordings=True)
    desired = desired_state(cleanups=[keep_videos, cleanup_policy("rest")])
    assert needs_videos(desired) and not needs_videos(desired_state())
    ids = candidates_needing_videos(desired, live_state(streams), now=NOW, active_users={})
    assert ids == (1,)


def test_with_cleanup_appends_changes_and_notes() -> None:
    base = Plan(notes=("n1",))
    selection = CleanupSelection(changes=(), notes=("n2",))
    assert with_cleanup(base, selection) == Plan(notes=("n1", "n2"))


def test_naive_now_is_taken_as_utc() -> None:
    streams = [live_stream(1, "old", finished_at_primary=OLD)]
    desired = desired_state(cleanups=[cleanup_policy()])
    naive = NOW.replace(tzinfo=None)
    assert selected_ids(plan_cleanup(desired, live_state(streams), now=naive, active_users={}))


def test_in_use_at_the_write_counts_only_broadcasts_not_finished_by_either_side() -> None:
    streams = [live_stream(1, "old", finished_at_primary=OLD)]
    desired = desired_state(cleanups=[cleanup_policy()])
    (cleanup,) = plan_cleanup(desired, live_state(streams), now=NOW, active_users={})
    done = live_broadcast(7, "Last year", [1], status="finished")
    assert in_use_now(cleanup, live_state(streams, [done])) is None
    listed = live_broadcast(8, "Next week", [1])
    assert in_use_now(cleanup, live_state(streams, [done, listed])) == (
        "broadcast 'Next week' (id 8, pending) uses stream 'old' (id 1); a stream used by a "
        "broadcast that is not finished is never cleaned up"
    )
    # Named only by the stream (the platform keeps both sides): in use all the same.
    named = [live_stream(1, "old", broadcast_ids=[9])]
    assert "broadcast 'Live' (id 9, live)" in str(
        in_use_now(cleanup, live_state(named, [live_broadcast(9, "Live", [], status="live")]))
    )
    # Only a Cleanup deletion is ever held by it.
    other = Change(Resource.STREAM, "cam", Action.DELETE, Stage.DELETE_STREAMS, target_id=1)
    assert in_use_now(other, live_state(streams, [listed])) is None


def test_the_write_judges_the_selecting_policys_idle_rule_as_the_plan_did() -> None:
    """One rule (`stream_use`) at the plan and at the write: a stream selected by a 30-day
    policy is kept at the write once a session ended within 30 days of the platform's time then,
    whatever other policies (a 1-day one declared after it) would say."""
    streams = [live_stream(1, "old", finished_at_primary=OLD)]
    desired = desired_state(cleanups=[cleanup_policy(), cleanup_policy("quick", idle_days=1.5)])
    (cleanup,) = plan_cleanup(desired, live_state(streams), now=NOW, active_users={})
    assert cleanup.selected_by == "stale"
    recheck = cleanup_recheck(desired, lambda: NOW)
    assert recheck(cleanup, live_state(streams)) is None  # as planned: it may go

    used = [live_stream(1, "old", started_at_primary=OLD, finished_at_primary=RECENT)]
    assert recheck(cleanup, live_state(used)) == (
        "used since the plan: last session ended 2026-11-20 08:00:00 UTC (5d ago); Cleanup "
        "'stale' takes only streams idle for more than 30d"
    )
    later = cleanup_recheck(desired, lambda: NOW + timedelta(days=31))
    assert later(cleanup, live_state(used)) is None  # stale again by then
    on_air = [live_stream(1, "old", finished_at_primary=OLD, backup_live=True)]
    assert recheck(cleanup, live_state(on_air)) == "used since the plan: an encoder is on air"
    hour_ago = [live_stream(1, "old", started_at_backup="2026-11-25T11:00:00+00:00")]
    assert recheck(replace(cleanup, selected_by="quick"), live_state(hour_ago)) == (
        "used since the plan: last backup session started 2026-11-25 11:00:00 UTC (1h ago); "
        "Cleanup 'quick' takes only streams idle for more than 1d12h"
    )


def test_the_write_still_holds_a_stream_a_broadcast_uses() -> None:
    streams = [live_stream(1, "old", finished_at_primary=OLD)]
    desired = desired_state(cleanups=[cleanup_policy()])
    (cleanup,) = plan_cleanup(desired, live_state(streams), now=NOW, active_users={})
    show = live_broadcast(8, "Next week", [1])
    assert cleanup_recheck(desired, lambda: NOW)(cleanup, live_state(streams, [show])) == (
        in_use_now(cleanup, live_state(streams, [show]))
    )
