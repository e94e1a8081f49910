"""Webhook bodies as hints, the queue keyed by object, and the slice's rule that it writes only
what it has read in full (a create waits for the full resync)."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.pipeline import RunOptions, load_desired
from reconciler.watch.hints import BadWebhook, Hint, Kind, parse_webhook
from reconciler.watch.queue import HintQueue, Queued
from reconciler.watch.slice import plan_slice


def test_webhook_bodies_become_hints_or_are_refused() -> None:
    assert parse_webhook(b'{"type":"stream","message":{"stream":{"id":7,"live":true}}}') == Hint(
        Kind.STREAM, 7
    )
    assert parse_webhook(b'{"type":"broadcast","message":{"broadcast":{"id":3}}}') == Hint(
        Kind.BROADCAST, 3
    )
    restream = b'{"type":"restream","message":{"restream":{"id":1,"stream_id":9}}}'
    assert parse_webhook(restream) == Hint(Kind.STREAM, 9)
    assert parse_webhook(b'{"type":"video","message":{"video":{"id":1}}}') is None
    for bad in (b"", b"[]", b'{"type":"stream"}', b'{"type":"stream","message":{"stream":{}}}',
                b'{"type":"stream","message":{"stream":{"id":true}}}',
                b'{"type":"stream","message":{"stream":{"id":-1}}}', b"\xff"):  # fmt: skip
        with pytest.raises(BadWebhook):
            parse_webhook(bad)


def test_a_burst_for_one_object_is_one_entry_and_a_full_queue_asks_for_a_resync() -> None:
    queue = HintQueue(capacity=2)
    a, b, c = Hint(Kind.STREAM, 1), Hint(Kind.STREAM, 2), Hint(Kind.BROADCAST, 1)
    assert [queue.put(h) for h in (a, a, b, a, c, c)] == [
        Queued.QUEUED, Queued.COALESCED, Queued.QUEUED, Queued.COALESCED, Queued.OVERFLOW,
        Queued.OVERFLOW,
    ]  # fmt: skip
    assert len(queue) == 2
    assert queue.take_overflow() is True
    assert queue.take_overflow() is False
    assert [queue.get(0), queue.get(0), queue.get(0)] == [a, b, None]
    assert queue.put(a) is Queued.QUEUED  # taken: a new burst is a new reconcile


MANIFESTS = """\
kind: Settings
name: sliced
---
kind: Stream
name: cam
spec: {name: Cam, active: true}
---
kind: Broadcast
name: show
spec: {name: Show, status: live, streams: [cam, spare]}
---
kind: Stream
name: spare
spec: {name: Spare}
"""


def test_a_slice_that_would_create_defers_to_the_full_resync(api: Any, tmp_path: Any) -> None:
    (tmp_path / "m.yaml").write_text(MANIFESTS.replace("streams: [cam, spare]", "streams: [cam]"))
    from reconciler.pipeline import apply_desired, plan_against

    desired = load_desired([tmp_path])
    _live, shown = plan_against(desired, api)
    apply_desired(desired, api, shown)
    cam = next(s for s in api.list_streams() if s["name"] == "Cam")
    api.update_stream(cam["id"], {"name": "Renamed by hand"})

    drifted = plan_slice(desired, api, Hint(Kind.STREAM, cam["id"]), RunOptions())
    assert drifted.needs_full is None
    assert [c.id for c in drifted.plan.pending] == ["stream/cam/update"]

    # The show now also uses a stream the slice has not read: it waits for the full resync.
    (tmp_path / "m.yaml").write_text(MANIFESTS)
    wider = plan_slice(load_desired([tmp_path]), api, Hint(Kind.STREAM, cam["id"]), RunOptions())
    assert (wider.needs_full, [c.id for c in wider.plan.pending]) == (None, ["stream/cam/update"])

    # A new broadcast on the stream: it may exist already under a name only a sweep finds.
    encore = "---\nkind: Broadcast\nname: encore\nspec: {name: Encore, streams: [cam]}\n"
    (tmp_path / "m.yaml").write_text(MANIFESTS + encore)
    deferred = plan_slice(load_desired([tmp_path]), api, Hint(Kind.STREAM, cam["id"]), RunOptions())
    assert deferred.needs_full == "create broadcast 'encore' needs the whole account's read"
