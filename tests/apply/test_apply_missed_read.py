"""Creates the plan decided from a read that missed an object (invariant 8): a list sweep that
someone else shifts by deleting on an early page skips one object. Apply sweeps a kind once before
its first create of that kind, so such an object is found and used, never created again. Asserted
from the simulator's state and request log, with the real planner."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.api.client import ClientSettings, StreamingClient
from reconciler.apply.scheduler import FOUND_BEFORE_CREATING, apply_plan
from reconciler.errors import ServerError
from reconciler.lock.lease import acquire_lock
from reconciler.lock.record import is_lock_stream
from reconciler.model.changes import Action, Outcome, Plan, Report
from reconciler.model.desired import DesiredState
from reconciler.model.live import LiveState
from reconciler.model.marker import decode_entity_data, encode_entity_data
from reconciler.pipeline import (
    RunOptions,
    apply_desired,
    load_desired,
    plan_against,
    plan_for,
    read_account,
)

SET = "prod"
MANIFEST = f"""kind: Settings
name: {SET}
---
kind: Stream
name: cam-a
spec: {{active: true}}
---
kind: Stream
name: cam-b
spec: {{dvr_enabled: false}}
---
kind: Broadcast
name: show-a
spec: {{status: pending, streams: [cam-a]}}
"""


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    path = tmp_path / "set.yaml"
    path.write_text(MANIFEST)
    return path


def converge(api: Any, manifest: Path) -> DesiredState:
    desired = load_desired([manifest])
    live, shown = plan_against(desired, api)
    assert apply_desired(desired, api, shown, live=live).report.exit_code == 0
    return desired


def without(live: LiveState, stream: str | None = None, broadcast: str | None = None) -> LiveState:
    """The account as a read that missed these objects saw it."""
    return LiveState(
        streams=tuple(s for s in live.streams if s.name != stream),
        broadcasts=tuple(b for b in live.broadcasts if b.name != broadcast),
    )


def outcomes(report: Report) -> dict[str, tuple[Outcome, str]]:
    return {r.change.id: (r.outcome, r.detail) for r in report.results}


def writes(sim: Any) -> list[str]:
    return [f"{r['method']} {r['path']}" for r in sim.requests() if r["method"] != "GET"]


def sweeps(sim: Any) -> Counter[str]:
    return Counter(
        r["path"] for r in sim.requests() if r["method"] == "GET" and r["query"].get("page") == "1"
    )


def census(api: Any) -> tuple[Counter[str], Counter[str]]:
    """Streams and broadcasts by name; the lock stream a run leaves released is not counted."""
    return (
        Counter(str(s["name"]) for s in api.list_streams() if not is_lock_stream(s)),
        Counter(str(b["name"]) for b in api.list_broadcasts()),
    )


def recorded(api: Any, stream: str) -> dict[str, int]:
    (found,) = [s for s in api.list_streams() if s["name"] == stream]
    marker = decode_entity_data(found["client_entity_data"]).marker
    assert marker is not None
    return dict(marker.broadcasts)


def test_a_stream_the_read_missed_is_found_and_used_not_created(
    sim: Any, api: Any, manifest: Path
) -> None:
    desired = converge(api, manifest)
    before = census(api)
    show_a = recorded(api, "cam-a")["show-a"]
    # The read missed cam-a: the plan creates it, its broadcast (recorded in cam-a's marker
    # only) and its activation.
    missed = without(read_account(api), stream="cam-a")
    plan = plan_for(desired, missed, api, RunOptions())
    creates = {c.id for c in plan.changes if c.action is Action.CREATE}
    assert creates == {"stream/cam-a/create", "broadcast/show-a/create"}
    sim.clear_log()

    report = apply_plan(plan, api, missed, set_name=SET)

    assert sweeps(sim) == {"/streaming/streams": 1, "/streaming/broadcasts": 1}
    assert report.exit_code == 0
    assert outcomes(report) == {
        "stream/cam-a/create": (Outcome.DONE, FOUND_BEFORE_CREATING),
        "broadcast/show-a/create": (Outcome.DONE, FOUND_BEFORE_CREATING),
        "stream/cam-a/activate": (Outcome.DONE, ""),
    }
    (cam_a,) = [s for s in api.list_streams() if s["name"] == "cam-a"]
    assert {r.change.id: r.object_id for r in report.results} == {
        "stream/cam-a/create": cam_a["id"],
        "broadcast/show-a/create": show_a,
        "stream/cam-a/activate": cam_a["id"],
    }
    assert writes(sim) == [f"PATCH /streaming/streams/{cam_a['id']}"]  # the activation, no POST
    assert census(api) == before
    assert recorded(api, "cam-a") == {"show-a": show_a}
    assert plan_against(desired, api)[1].changes == ()


def test_a_broadcast_the_read_missed_is_found_and_recorded_again(
    sim: Any, api: Any, manifest: Path
) -> None:
    desired = converge(api, manifest)
    before = census(api)
    show_a = recorded(api, "cam-a")["show-a"]
    # The read missed show-a: the plan drops it from cam-a's marker and creates it.
    missed = without(read_account(api), broadcast="show-a")
    plan = plan_for(desired, missed, api, RunOptions())
    assert {c.id for c in plan.changes if c.action is Action.CREATE} == {"broadcast/show-a/create"}
    sim.clear_log()

    report = apply_plan(plan, api, missed, set_name=SET)

    assert sweeps(sim) == {"/streaming/broadcasts": 1}  # no stream is created: no stream sweep
    assert report.exit_code == 0
    assert outcomes(report)["broadcast/show-a/create"] == (Outcome.DONE, FOUND_BEFORE_CREATING)
    assert not [w for w in writes(sim) if w.startswith("POST")]
    assert census(api) == before
    assert recorded(api, "cam-a") == {"show-a": show_a}  # the marker bookkeeping of a create
    assert plan_against(desired, api)[1].changes == ()


def test_a_found_stream_carries_a_new_broadcast(sim: Any, api: Any, manifest: Path) -> None:
    converge(api, manifest)
    show_a = recorded(api, "cam-a")["show-a"]
    manifest.write_text(
        MANIFEST
        + "---\nkind: Broadcast\nname: show-a2\nspec: {status: pending, streams: [cam-a]}\n"
    )
    desired = load_desired([manifest])
    missed = without(read_account(api), stream="cam-a")
    plan = plan_for(desired, missed, api, RunOptions())
    sim.clear_log()

    report = apply_plan(plan, api, missed, set_name=SET)

    assert report.exit_code == 0
    results = outcomes(report)
    assert results["stream/cam-a/create"] == (Outcome.DONE, FOUND_BEFORE_CREATING)
    assert results["broadcast/show-a2/create"] == (Outcome.DONE, "")
    (cam_a,) = [s for s in api.list_streams() if s["name"] == "cam-a"]
    (show_a2,) = [b for b in api.list_broadcasts() if b["name"] == "show-a2"]
    assert show_a2["stream_ids"] == [cam_a["id"]]
    assert recorded(api, "cam-a") == {"show-a": show_a, "show-a2": show_a2["id"]}
    assert [w for w in writes(sim) if w.startswith("POST")] == ["POST /streaming/broadcasts"]
    assert census(api) == (Counter({"cam-a": 1, "cam-b": 1}), Counter({"show-a": 1, "show-a2": 1}))
    assert plan_against(desired, api)[1].changes == ()


class FailingSweeps:
    """The client, but every list sweep of `kind` answers 503."""

    def __init__(self, api: Any, kind: str) -> None:
        self.api = api
        self.kind = kind
        self.sweeps = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.api, name)

    def _fail(self) -> None:
        self.sweeps += 1
        path = f"/streaming/{self.kind}"
        raise ServerError("Server Error", method="GET", path=path, status=503)

    def list_streams(self) -> list[dict[str, Any]]:
        if self.kind == "streams":
            self._fail()
        streams: list[dict[str, Any]] = self.api.list_streams()
        return streams

    def list_broadcasts(self) -> list[dict[str, Any]]:
        if self.kind == "broadcasts":
            self._fail()
        broadcasts: list[dict[str, Any]] = self.api.list_broadcasts()
        return broadcasts


def test_no_stream_is_created_when_the_sweep_before_creating_fails(
    sim: Any, api: Any, manifest: Path
) -> None:
    desired = load_desired([manifest])
    live, plan = plan_against(desired, api)
    failing = FailingSweeps(api, "streams")
    sim.clear_log()

    report = apply_plan(Plan(changes=plan.changes), failing, live, set_name=SET)

    assert failing.sweeps == 1  # one sweep for all the creates of the stage
    assert writes(sim) == []
    results = outcomes(report)
    for key in ("cam-a", "cam-b"):
        outcome, detail = results[f"stream/{key}/create"]
        assert outcome is Outcome.FAILED
        assert detail.startswith("looking for it before creating failed: ") and "503" in detail
    assert results["broadcast/show-a/create"] == (Outcome.SKIPPED, "stream/cam-a/create failed")
    assert results["stream/cam-a/activate"] == (Outcome.SKIPPED, "stream/cam-a/create failed")
    assert report.exit_code == 1
    assert census(api) == (Counter(), Counter())


def test_no_broadcast_is_created_when_the_sweep_before_creating_fails(
    sim: Any, api: Any, manifest: Path
) -> None:
    desired = load_desired([manifest])
    live, plan = plan_against(desired, api)
    failing = FailingSweeps(api, "broadcasts")

    report = apply_plan(plan, failing, live, set_name=SET)

    assert failing.sweeps == 1
    results = outcomes(report)
    outcome, detail = results["broadcast/show-a/create"]
    assert outcome is Outcome.FAILED and "before creating failed" in detail and "503" in detail
    assert results["stream/cam-a/create"] == (Outcome.DONE, "")
    assert results["stream/cam-a/activate"] == (Outcome.DONE, "")
    assert census(api) == (Counter({"cam-a": 1, "cam-b": 1}), Counter())
    # The next run, with the sweeps answering, creates the broadcast.
    again = converge(api, manifest)
    assert census(api)[1] == Counter({"show-a": 1})
    assert plan_against(again, api)[1].changes == ()


class ShiftingTransport(httpx.BaseTransport):
    """The simulator, where someone else deletes `victim` right after page 1 of the next sweep of
    streams is served: the objects shift left and that sweep misses the first of page 2."""

    def __init__(self, sim: Any, api: Any) -> None:
        self.inner = sim.transport()
        self.api = api  # another client: the someone else
        self.victim: int | None = None

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        is_page_one = request.url.params.get("page") == "1"
        if self.victim is not None and request.url.path == "/streaming/streams" and is_page_one:
            victim, self.victim = self.victim, None
            self.api.delete_stream(victim)
        return response


@pytest.fixture
def shifting(sim: Any, api: Any) -> Iterator[tuple[Any, ShiftingTransport]]:
    transport = ShiftingTransport(sim, api)
    settings = ClientSettings(rate_limit=None, backoff_base=0.0)
    client = StreamingClient(
        "http://simulator.invalid", sim.config.api_key, transport=transport, settings=settings
    )
    yield client, transport
    client.close()


def test_a_sweep_shifted_under_the_lock_creates_no_duplicate(
    sim: Any, api: Any, manifest: Path, shifting: tuple[Any, ShiftingTransport]
) -> None:
    client, transport = shifting
    foreign = [
        api.create_stream(
            {"name": f"user-{i}", "client_entity_data": encode_entity_data(None, {"u": i})}
        )
        for i in range(25)
    ]  # page 1: someone else's per-user streams
    converge(client, manifest)  # ours start on page 2
    manifest.write_text(MANIFEST.replace("dvr_enabled: false", "dvr_enabled: true"))
    desired = load_desired([manifest])
    live, shown = plan_against(desired, client)
    assert [c.id for c in shown.pending] == ["stream/cam-b/update"]
    # Another apply of the set takes the lock after this plan: the lock then sweeps in full.
    acquire_lock(api, SET, owner="another run").release()
    sim.clear_log()
    transport.victim = foreign[0]["id"]  # deleted during the locked re-plan's read

    run = apply_desired(desired, client, shown, live=live)

    assert run.replanned  # the read under the lock missed cam-a and planned to create it
    assert "stream/cam-a/create" in {c.id for c in run.plan.changes}
    assert run.report.exit_code == 0
    results = outcomes(run.report)
    assert results["stream/cam-a/create"] == (Outcome.DONE, FOUND_BEFORE_CREATING)
    assert results["broadcast/show-a/create"] == (Outcome.DONE, FOUND_BEFORE_CREATING)
    assert sim.counters()["POST /streaming/streams"] == 1  # the lock's only
    assert sim.counters().get("POST /streaming/broadcasts", 0) == 0
    streams, broadcasts = census(api)
    assert streams == Counter({"cam-a": 1, "cam-b": 1, **{f"user-{i}": 1 for i in range(1, 25)}})
    assert broadcasts == Counter({"show-a": 1})
    assert plan_against(desired, client)[1].changes == ()
