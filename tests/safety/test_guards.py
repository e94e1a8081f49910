"""Unit tests of the safety rules over hand-built plans: live-safety, empty-kind refusal, caps."""

from __future__ import annotations

from safety_factories import (
    change,
    desired_broadcast,
    desired_state,
    desired_stream,
    live_broadcast,
    live_state,
    live_stream,
)

from reconciler.model.changes import Action, FieldDiff, Plan, Resource, Stage
from reconciler.safety.guards import GuardOptions, allowed_by_percent, apply_guards, owned_counts

S, B = Resource.STREAM, Resource.BROADCAST


def region_change(key: str, stream_id: int) -> object:
    return change(
        S,
        key,
        Action.UPDATE,
        stream_id,
        diffs=(FieldDiff("replace", "/transcoding_region", "ix1", "dt1"),),
        body={"name": key, "transcoding_region": "dt1"},
    )


def test_region_change_of_a_live_stream_is_held_with_the_reason_and_the_opt_in() -> None:
    live = live_state([live_stream(7, "studio-a", key="studio-a", live=True)])
    desired = desired_state([desired_stream("studio-a", transcoding_region="dt1")])
    plan = apply_guards(Plan(changes=(region_change("studio-a", 7),)), desired, live)
    (held,) = plan.changes
    assert held.held == (
        "stream 'studio-a' (id 7) is live; region change ix1 -> dt1 waits until it is idle; "
        "allow with policy.allow_live_changes or --allow-live-changes"
    )
    assert plan.pending == ()


def test_region_change_of_an_idle_stream_goes_through_untouched() -> None:
    live = live_state([live_stream(7, "studio-a", key="studio-a")])
    desired = desired_state([desired_stream("studio-a", transcoding_region="dt1")])
    original = Plan(changes=(region_change("studio-a", 7),))
    assert apply_guards(original, desired, live) == original


def test_backup_ingest_counts_as_live() -> None:
    live = live_state([live_stream(7, "studio-a", key="studio-a", backup_live=True)])
    desired = desired_state([desired_stream("other")])
    plan = apply_guards(Plan(changes=(change(S, "studio-a", Action.DELETE, 7),)), desired, live)
    assert plan.changes[0].held is not None
    assert "is live on its backup ingest; deleting it waits" in plan.changes[0].held


def test_ingest_and_deactivation_changes_are_held_but_harmless_fields_are_not() -> None:
    live = live_state(
        [live_stream(7, "cam", key="cam", live=True), live_stream(8, "cam2", key="cam2", live=True)]
    )
    desired = desired_state([desired_stream("cam"), desired_stream("cam2")])
    uri = change(S, "cam", Action.UPDATE, 7, diffs=(FieldDiff("replace", "/uri", "a", "b"),))
    off = change(S, "cam", Action.DEACTIVATE, 7)
    dvr = change(
        S, "cam2", Action.UPDATE, 8, diffs=(FieldDiff("replace", "/dvr_duration", 60, 120),)
    )
    stop = change(S, "cam", Action.STOP_RECORDING, 7)
    plan = apply_guards(Plan(changes=(uri, off, dvr, stop)), desired, live)
    held = {c.action: c.held for c in plan.changes}
    assert (
        held[Action.DEACTIVATE] is not None and "deactivating it waits" in held[Action.DEACTIVATE]
    )
    # Stopping a recording cuts no viewer and no encoder: applied while live (issue 8 item 4).
    assert held[Action.STOP_RECORDING] is None
    assert [c.held is None for c in plan.changes] == [False, False, True, True]
    assert "ingest change (uri)" in (plan.changes[0].held or "")


def test_policy_allow_live_changes_lets_the_change_through_with_a_note() -> None:
    live = live_state([live_stream(7, "studio-a", key="studio-a", live=True)])
    desired = desired_state([desired_stream("studio-a", allow_live=True)])
    plan = apply_guards(Plan(changes=(region_change("studio-a", 7),)), desired, live)
    assert plan.held == ()
    assert plan.notes == (
        "stream/studio-a/update goes through on air, allowed by policy.allow_live_changes; "
        "otherwise it would be held: stream 'studio-a' (id 7) is live; region change ix1 -> dt1 "
        "waits until it is idle",
    )


def test_the_flag_allows_a_pruned_live_stream_whose_policy_is_gone() -> None:
    live = live_state([live_stream(7, "old", key="old", live=True)])
    desired = desired_state([desired_stream("other")])
    plan = Plan(changes=(change(S, "old", Action.DELETE, 7),))
    assert apply_guards(plan, desired, live).held != ()
    allowed = apply_guards(plan, desired, live, GuardOptions(allow_live_changes=True))
    assert allowed.held == ()
    assert "allowed by --allow-live-changes" in allowed.notes[0]


def test_finishing_or_deleting_a_broadcast_that_shows_a_live_stream_is_held() -> None:
    live = live_state(
        [live_stream(7, "cam", key="cam", live=True), live_stream(8, "idle", key="idle")],
        [
            live_broadcast(3, "show", [8, 7], "live"),
            live_broadcast(4, "quiet", [8], "live"),
            live_broadcast(5, "other", [7], "live"),
        ],
    )
    desired = desired_state([desired_stream("cam")], [desired_broadcast("show", ("cam",))])
    finish = change(B, "show", Action.SET_STATUS, 3, body={"status": "finished"})
    pause = change(B, "other", Action.SET_STATUS, 5, body={"status": "paused"})
    delete = change(B, "gone", Action.DELETE, 3)
    finish_quiet = change(B, "quiet", Action.SET_STATUS, 4, body={"status": "finished"})
    plan = apply_guards(Plan(changes=(finish, pause, delete, finish_quiet)), desired, live)
    assert [c.held is not None for c in plan.changes] == [True, False, True, False]
    assert plan.changes[0].held == (
        "broadcast 'show' (id 3) shows stream 'cam' (id 7), which is live; finishing it waits "
        "until the stream is idle; allow with policy.allow_live_changes or --allow-live-changes"
    )
    assert (plan.changes[2].held or "").startswith("broadcast 'gone' (id 3) shows stream 'cam'")


def test_broadcast_policy_allows_finishing_while_live() -> None:
    live = live_state([live_stream(7, "cam", key="cam", live=True)], [live_broadcast(3, "s", [7])])
    desired = desired_state(
        [desired_stream("cam")], [desired_broadcast("show", ("cam",), allow_live=True)]
    )
    finish = change(B, "show", Action.SET_STATUS, 3, body={"status": "finished"})
    assert apply_guards(Plan(changes=(finish,)), desired, live).held == ()


def test_changes_that_depend_on_a_held_change_are_held_too() -> None:
    live = live_state(
        [live_stream(7, "cam", key="cam", live=True), live_stream(8, "spare", key="spare")],
        [live_broadcast(3, "show", [7], "live")],
    )
    desired = desired_state([desired_stream("other")], [desired_broadcast("x", ("other",))])
    finish = change(B, "show", Action.SET_STATUS, 3, body={"status": "finished"})
    delete_b = change(B, "show", Action.UPDATE, 3, depends_on=(finish.id,))
    delete_s = change(S, "spare", Action.DELETE, 8, depends_on=(delete_b.id,))
    unrelated = change(S, "new", Action.CREATE)
    plan = apply_guards(
        Plan(changes=(finish, delete_b, delete_s, unrelated)),
        desired,
        live,
        GuardOptions(max_deletions=100, max_deletion_percent=100),
    )
    assert [c.held is not None for c in plan.changes] == [True, True, True, False]
    assert (plan.changes[2].held or "").startswith(
        "waits for broadcast/show/set_status, which is held: broadcast 'show' (id 3)"
    )


def test_manifests_without_streams_refuse_to_prune_owned_streams() -> None:
    live = live_state([live_stream(i, f"s{i}", key=f"s{i}") for i in (1, 2, 3)])
    desired = desired_state([], [desired_broadcast("b", ())])
    plan = Plan(
        changes=(
            change(S, "s1", Action.STOP_RECORDING, 1),
            change(S, "s1", Action.DELETE, 1, depends_on=("stream/s1/stop_recording",)),
            change(S, "s2", Action.DELETE, 2),
            change(S, "s3", Action.ORPHAN, 3),
            change(B, "b", Action.CREATE, stage=Stage.CREATE_BROADCASTS),
        ),
        notes=("earlier note",),
    )
    guarded = apply_guards(plan, desired, live)
    assert [c.id for c in guarded.pending] == ["broadcast/b/create"]
    refusal = (
        "prune refused: the manifests declare no streams; allow with --allow-empty-prune "
        "or allow_empty_prune: true in Settings"
    )
    assert guarded.notes == (
        "earlier note",
        "prune refused: the manifests declare no streams while 3 owned stream(s) would be "
        "deleted or released (s1, s2, s3); if that is intended, set allow_empty_prune: true in "
        "the Settings document or pass --allow-empty-prune; also held: stream/s1/stop_recording",
    )
    held = {c.id: c.held for c in guarded.held}
    assert held == {
        "stream/s1/stop_recording": f"waits for stream/s1/delete, which is held: {refusal}",
        "stream/s1/delete": refusal,
        "stream/s2/delete": refusal,
        "stream/s3/orphan": refusal,
    }


def test_empty_manifests_altogether_refuse_every_prune() -> None:
    live = live_state(
        [live_stream(1, "s1", key="s1", broadcasts={"b1": 5})], [live_broadcast(5, "b1", [1])]
    )
    plan = Plan(changes=(change(B, "b1", Action.DELETE, 5), change(S, "s1", Action.DELETE, 1)))
    guarded = apply_guards(plan, desired_state(), live)
    assert guarded.pending == () and len(guarded.held) == 2
    assert len(guarded.notes) == 2
    assert all("declare no resources at all" in n for n in guarded.notes)


def test_allow_empty_prune_from_settings_or_flag() -> None:
    live = live_state([live_stream(1, "s1", key="s1")])
    plan = Plan(changes=(change(S, "s1", Action.DELETE, 1),))
    by_settings = desired_state([], allow_empty_prune=True, max_deletion_percent=100)
    assert apply_guards(plan, by_settings, live).changes == plan.changes
    by_flag = GuardOptions(allow_empty_prune=True)
    assert apply_guards(plan, desired_state(), live, by_flag).changes == plan.changes
    refused = apply_guards(plan, by_settings, live, GuardOptions(allow_empty_prune=False))
    assert refused.pending == ()


def test_count_cap_keeps_the_first_deletions_by_key_and_says_so() -> None:
    streams = [live_stream(i, f"s{i:02d}", key=f"s{i:02d}") for i in range(1, 101)]
    live = live_state(streams)
    desired = desired_state([desired_stream("keep")], max_deletions=10)
    deletes = tuple(change(S, f"s{i:02d}", Action.DELETE, i) for i in range(15, 0, -1))
    guarded = apply_guards(Plan(changes=deletes), desired, live)
    assert sorted(c.key for c in guarded.pending) == [f"s{i:02d}" for i in range(1, 11)]
    assert sorted(c.key for c in guarded.held) == [f"s{i:02d}" for i in range(11, 16)]
    assert {c.held for c in guarded.held} == {
        "deletion cap: 10 stream deletion(s) per run; deleted on a later run "
        "(raise with --max-deletions / --max-deletion-percent)"
    }
    assert guarded.notes == (
        "5 stream deletion(s) held by the cap (s11, s12, s13, s14, s15): at most 10 per run and "
        "25% of the 100 owned streams (= 25); they are deleted on later runs; raise with "
        "--max-deletions / --max-deletion-percent (or max_deletions / max_deletion_percent in "
        "Settings)",
    )
    raised = apply_guards(Plan(changes=deletes), desired, live, GuardOptions(max_deletions=20))
    assert len(raised.pending) == 15 and raised.notes == ()


def test_percent_cap_counts_owned_objects_from_the_markers() -> None:
    ours = [live_stream(i, f"s{i}", key=f"s{i}") for i in range(1, 9)]
    theirs = [live_stream(i, f"x{i}", key=f"x{i}", set_name="other") for i in range(20, 40)]
    live = live_state(ours + theirs)
    desired = desired_state([desired_stream("keep")])
    deletes = tuple(change(S, f"s{i}", Action.DELETE, i) for i in range(1, 6))
    guarded = apply_guards(Plan(changes=deletes), desired, live)
    assert [c.key for c in guarded.pending] == ["s1", "s2"]  # 25% of 8 owned
    assert "25% of the 8 owned streams (= 2)" in guarded.notes[0]
    half = apply_guards(Plan(changes=deletes), desired, live, GuardOptions(max_deletion_percent=50))
    assert len(half.pending) == 4


def test_caps_apply_per_kind_and_ignore_held_and_cleanup_changes() -> None:
    streams = [live_stream(i, f"s{i}", key=f"s{i}", broadcasts={f"b{i}": 100 + i}) for i in (1, 2)]
    streams.append(live_stream(3, "live-one", key="s3", live=True))
    live = live_state(streams, [live_broadcast(100 + i, f"b{i}", [i]) for i in (1, 2)])
    desired = desired_state([desired_stream("keep")], [desired_broadcast("k", ("keep",))])
    plan = Plan(
        changes=(
            change(S, "s3", Action.DELETE, 3),  # held (live): not counted
            change(S, "s1", Action.DELETE, 1),
            change(B, "b1", Action.DELETE, 101),
            change(B, "b2", Action.DELETE, 102),
            change(S, "#50", Action.CLEANUP, 50, stage=Stage.CLEANUP),
            change(S, "#51", Action.CLEANUP, 51, stage=Stage.CLEANUP),
        )
    )
    guarded = apply_guards(plan, desired, live, GuardOptions(max_deletions=1))
    assert [c.id for c in guarded.pending] == [
        "stream/s1/delete",
        "broadcast/b1/delete",
        "stream/#50/cleanup",
        "stream/#51/cleanup",
    ]
    assert [c.id for c in guarded.held] == ["stream/s3/delete", "broadcast/b2/delete"]
    assert len(guarded.notes) == 1 and guarded.notes[0].startswith("1 broadcast deletion(s)")


def test_a_capped_prune_takes_its_teardown_and_dependents_along() -> None:
    live = live_state([live_stream(i, f"s{i}", key=f"s{i}") for i in (1, 2)])
    desired = desired_state([desired_stream("keep")], max_deletions=1, max_deletion_percent=100)
    plan = Plan(
        changes=(
            change(S, "s1", Action.DELETE, 1),
            change(S, "s2", Action.DEACTIVATE, 2),
            change(S, "s2", Action.DELETE, 2, depends_on=("stream/s2/deactivate",)),
            change(B, "z", Action.UPDATE, 9, depends_on=("stream/s2/delete",)),
        )
    )
    guarded = apply_guards(plan, desired, live)
    assert [c.id for c in guarded.pending] == ["stream/s1/delete"]
    assert guarded.notes[0].endswith("; also held: broadcast/z/update, stream/s2/deactivate")
    assert {c.id for c in guarded.held} == {
        "stream/s2/deactivate",
        "stream/s2/delete",
        "broadcast/z/update",
    }


def test_percent_cap_always_allows_one_unless_zero() -> None:
    assert allowed_by_percent(3, 25) == 1
    assert allowed_by_percent(40, 25) == 10
    assert allowed_by_percent(40, 0) == 0
    assert allowed_by_percent(0, 25) == 1


def test_owned_counts_only_count_existing_broadcasts_of_the_set() -> None:
    live = live_state(
        [
            live_stream(1, "a", key="a", broadcasts={"b1": 11, "gone": 99}),
            live_stream(2, "b", key="b", broadcasts={"b1": 11}),
            live_stream(3, "c", key="c", set_name="other", broadcasts={"b3": 13}),
            live_stream(4, "plain"),
        ],
        [live_broadcast(11, "b1", [1, 2]), live_broadcast(13, "b3", [3])],
    )
    assert owned_counts(live, "prod") == {S: 2, B: 1}
