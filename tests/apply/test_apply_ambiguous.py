"""Creates whose outcome is unknown (invariant 8): the lost creates of a stage are looked up with
one sweep per round, found ones are ours, the missing ones are created again up to the budget,
and nothing is ever duplicated. Asserted from the simulator's state and the calls made."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

from reconciler.apply.scheduler import FOUND_AFTER_AMBIGUOUS, MAX_CREATE_ATTEMPTS, apply_plan
from reconciler.errors import AmbiguousCreate, ServerError
from reconciler.model.changes import Action, Change, Outcome, Plan, Resource, Stage
from reconciler.model.live import read_live
from reconciler.model.marker import Marker, decode_entity_data, encode_entity_data

SET = "demo"


def create_stream(key: str) -> Change:
    body = {
        "name": key,
        "active": False,
        "client_entity_data": encode_entity_data(Marker(set_name=SET, key=key), None) or "",
    }
    return Change(Resource.STREAM, key, Action.CREATE, Stage.CREATE_STREAMS, body=body)


def create_broadcast(key: str, *streams: str, name: str | None = None) -> Change:
    return Change(
        Resource.BROADCAST,
        key,
        Action.CREATE,
        Stage.CREATE_BROADCASTS,
        body={"name": name or key, "status": "pending"},
        stream_refs=streams,
    )


def activate(key: str) -> Change:
    return Change(
        Resource.STREAM, key, Action.ACTIVATE, Stage.ACTIVATE_STREAMS, body={"active": True}
    )


class Scripted:
    """Wraps the client. `script[name]` says what each create attempt of that name does:
    "lost" = the object is created, then the answer is lost; "void" = the outcome is unknown
    and nothing was created; once the script is used up, creates answer normally."""

    def __init__(self, api: Any, script: dict[str, list[str]]) -> None:
        self.api = api
        self.script = {name: list(steps) for name, steps in script.items()}
        self.lock = threading.Lock()
        self.posts: Counter[str] = Counter()
        self.sweeps: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.api, name)

    def list_streams(self) -> list[dict[str, Any]]:
        self.sweeps["streams"] += 1
        streams: list[dict[str, Any]] = self.api.list_streams()
        return streams

    def list_broadcasts(self) -> list[dict[str, Any]]:
        self.sweeps["broadcasts"] += 1
        broadcasts: list[dict[str, Any]] = self.api.list_broadcasts()
        return broadcasts

    def create_stream(self, fields: dict[str, Any]) -> dict[str, Any]:
        return self._create("streams", self.api.create_stream, fields)

    def create_broadcast(self, fields: dict[str, Any], **options: Any) -> dict[str, Any]:
        return self._create("broadcasts", self.api.create_broadcast, fields)

    def _create(self, kind: str, create: Any, fields: dict[str, Any]) -> dict[str, Any]:
        name = fields["name"]
        with self.lock:
            self.posts[name] += 1
            steps = self.script.get(name) or ["ok"]
            step = steps.pop(0)
        path = f"/streaming/{kind}"
        if step == "void":
            raise AmbiguousCreate("outcome unknown (timed out)", method="POST", path=path)
        answer: dict[str, Any] = create(fields)
        if step == "lost":
            raise AmbiguousCreate("outcome unknown (connection dropped)", method="POST", path=path)
        return answer


def results_by_id(report: Any) -> dict[str, tuple[Outcome, str]]:
    return {r.change.id: (r.outcome, r.detail) for r in report.results}


def names(items: list[dict[str, Any]]) -> Counter[str]:
    return Counter(str(item["name"]) for item in items)


def test_lost_stream_creates_share_one_sweep_per_round(sim: Any, api: Any) -> None:
    script = {
        "a": ["lost"],  # found by the first lookup
        "b": ["lost"],
        "c": ["void"],  # not there: created again, answered
        "d": ["void"],
        "e": ["void", "void", "lost"],  # found by the third lookup
        "f": ["void", "void", "void"],  # never created: fails after the budget
        "g": [],  # answers at once
    }
    scripted = Scripted(api, script)
    keys = sorted(script)
    plan = Plan(
        changes=(
            *(create_stream(k) for k in keys),
            create_broadcast("show-e", "e"),
            *(activate(k) for k in keys),
        )
    )
    report = apply_plan(plan, scripted, read_live(api))

    # One sweep per kind before creating, then one per round of lost creates, not per create.
    assert scripted.sweeps == {"streams": 1 + MAX_CREATE_ATTEMPTS, "broadcasts": 1}
    assert scripted.posts == {
        "a": 1,
        "b": 1,
        "c": 2,
        "d": 2,
        "e": 3,
        "f": 3,
        "g": 1,
        "show-e": 1,
    }
    streams = api.list_streams()
    assert names(streams) == Counter({k: 1 for k in keys if k != "f"})  # no duplicate
    outcomes = results_by_id(report)
    for key in ("a", "b", "e"):
        assert outcomes[f"stream/{key}/create"] == (Outcome.DONE, FOUND_AFTER_AMBIGUOUS)
    for key in ("c", "d", "g"):
        assert outcomes[f"stream/{key}/create"] == (Outcome.DONE, "")
    outcome, detail = outcomes["stream/f/create"]
    assert outcome is Outcome.FAILED
    assert f"unknown after {MAX_CREATE_ATTEMPTS} attempts" in detail and "next run" in detail
    assert outcomes["stream/f/activate"] == (Outcome.SKIPPED, "stream/f/create failed")
    assert outcomes["stream/e/activate"] == (Outcome.DONE, "")
    # The stream found in the last round is used by what depends on it: its broadcast is
    # created on it and recorded in its marker.
    assert outcomes["broadcast/show-e/create"] == (Outcome.DONE, "")
    (stream_e,) = [s for s in streams if s["name"] == "e"]
    (show,) = api.list_broadcasts()
    assert show["stream_ids"] == [stream_e["id"]]
    recorded = decode_entity_data(stream_e["client_entity_data"]).marker
    assert recorded is not None and recorded.broadcasts == {"show-e": show["id"]}
    assert stream_e["active"] is True
    assert report.exit_code == 1


def test_lost_broadcast_creates_are_found_with_one_sweep_and_recorded(sim: Any, api: Any) -> None:
    script = {"morning": ["lost"], "evening": ["lost"], "night": ["void"]}
    scripted = Scripted(api, script)
    plan = Plan(
        changes=(
            create_stream("cam1"),
            create_stream("cam2"),
            create_broadcast("morning", "cam1"),
            create_broadcast("evening", "cam1", "cam2"),
            create_broadcast("night", "cam2"),
        )
    )
    report = apply_plan(plan, scripted, read_live(api))
    assert report.exit_code == 0
    # One sweep per kind before creating, one for the three lost creates; night, not found,
    # is created again and answered.
    assert scripted.sweeps == {"streams": 1, "broadcasts": 2}
    assert scripted.posts == {"cam1": 1, "cam2": 1, "morning": 1, "evening": 1, "night": 2}
    outcomes = results_by_id(report)
    assert outcomes["broadcast/morning/create"] == (Outcome.DONE, FOUND_AFTER_AMBIGUOUS)
    assert outcomes["broadcast/evening/create"] == (Outcome.DONE, FOUND_AFTER_AMBIGUOUS)
    assert outcomes["broadcast/night/create"] == (Outcome.DONE, "")
    broadcasts = {b["name"]: b["id"] for b in api.list_broadcasts()}
    assert len(broadcasts) == 3 == len(api.list_broadcasts())
    markers = {
        s["name"]: decode_entity_data(s["client_entity_data"]).marker for s in api.list_streams()
    }
    cam1, cam2 = markers["cam1"], markers["cam2"]
    assert cam1 is not None and cam2 is not None
    assert cam1.broadcasts == {"morning": broadcasts["morning"], "evening": broadcasts["evening"]}
    assert cam2.broadcasts == {"evening": broadcasts["evening"], "night": broadcasts["night"]}


def test_a_lookup_takes_neither_an_older_broadcast_nor_one_twice(sim: Any, api: Any) -> None:
    cam = api.create_stream(
        {"name": "cam", "client_entity_data": create_stream("cam").body["client_entity_data"]}
    )
    older = api.create_broadcast(
        {"name": "show", "status": "pending", "stream_ids": [cam["id"]]}
    )  # someone else's
    # Two keys, one platform name: the first create is lost after the commit, the second never
    # arrives. The lookup may hand the new broadcast to one key only, and never the older one.
    scripted = Scripted(api, {"show": ["lost", "void"]})
    plan = Plan(
        changes=(
            create_broadcast("show-a", "cam", name="show"),
            create_broadcast("show-b", "cam", name="show"),
        )
    )
    report = apply_plan(plan, scripted, read_live(api), set_name=SET)
    assert report.exit_code == 0
    assert scripted.posts == {"show": 3}
    assert scripted.sweeps == {"broadcasts": 2}  # before creating, then the lost round
    ids = sorted(b["id"] for b in api.list_broadcasts())
    assert len(ids) == 3 and ids[0] == older["id"]
    got = {r.change.key: r.object_id for r in report.results}
    assert got["show-a"] != got["show-b"] and older["id"] not in got.values()
    (stream,) = api.list_streams()
    recorded = decode_entity_data(stream["client_entity_data"]).marker
    assert recorded is not None and recorded.broadcasts == got


def test_a_failed_lookup_fails_the_lost_creates_without_creating_again(sim: Any, api: Any) -> None:
    class SweepFails(Scripted):
        """The sweep before creating answers; the lookup of the lost creates fails."""

        def list_streams(self) -> list[dict[str, Any]]:
            if self.sweeps["streams"] == 0:
                return super().list_streams()
            self.sweeps["streams"] += 1
            raise ServerError("Server Error", method="GET", path="/streaming/streams", status=503)

    scripted = SweepFails(api, {"a": ["void"], "b": ["lost"]})
    report = apply_plan(
        Plan(changes=(create_stream("a"), create_stream("b"))), scripted, read_live(api)
    )
    assert scripted.sweeps == {"streams": 2}
    assert scripted.posts == {"a": 1, "b": 1}
    for result in report.results:
        assert result.outcome is Outcome.FAILED
        assert "looking for the object failed" in result.detail and "503" in result.detail
    assert names(api.list_streams()) == Counter({"b": 1})


def test_dropped_answers_from_the_simulator_cost_one_sweep_per_kind(sim: Any, api: Any) -> None:
    from reconciler.simulator import Faults

    n = 12
    plan = Plan(
        changes=(
            *(create_stream(f"cam{i:02d}") for i in range(n)),
            *(create_broadcast(f"show{i:02d}", f"cam{i:02d}") for i in range(n)),
        )
    )
    live = read_live(api)
    sim.clear_log()
    sim.set_faults(Faults(drop_create_rate=1.0, seed=7))  # every create commits, no answer
    report = apply_plan(plan, api, live)
    sim.set_faults(Faults())
    assert [(r.outcome, r.detail) for r in report.results] == [
        (Outcome.DONE, FOUND_AFTER_AMBIGUOUS)
    ] * (2 * n)
    page_ones = Counter(
        r["path"] for r in sim.requests() if r["method"] == "GET" and r["query"].get("page") == "1"
    )
    # Per kind: one sweep before creating, one for all the lost creates.
    assert page_ones == {"/streaming/streams": 2, "/streaming/broadcasts": 2}
    counters = sim.counters()
    assert counters["POST /streaming/streams"] == n
    assert counters["POST /streaming/broadcasts"] == n
    assert names(api.list_streams()) == Counter({f"cam{i:02d}": 1 for i in range(n)})
    assert names(api.list_broadcasts()) == Counter({f"show{i:02d}": 1 for i in range(n)})
