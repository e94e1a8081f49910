"""Issue 3's convergence property on the real stack: for random desired sets and random live
drift, ONE apply (real planner, guards, apply and client against the simulator) converges, the
next plan is empty, and objects without our marker are never touched."""

from __future__ import annotations

import json
import os
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.api.client import ClientSettings, StreamingClient
from reconciler.apply.scheduler import apply_plan
from reconciler.model.changes import Outcome
from reconciler.model.desired import DesiredBroadcast, DesiredState, DesiredStream, Settings
from reconciler.model.marker import decode_entity_data
from reconciler.pipeline import RunOptions, plan_for, read_account
from reconciler.simulator import Simulator, SimulatorConfig

KEY = "property-key-0123456789"
SET = "prop"
STREAM_KEYS = ["cam-a", "cam-b", "cam-c"]
BROADCAST_KEYS = ["show-x", "show-y"]

PROPS = settings(
    max_examples=int(os.environ.get("CONVERGE_EXAMPLES", "25")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@st.composite
def desired_states(draw: st.DrawFn) -> DesiredState:
    streams: dict[str, DesiredStream] = {}
    for key in draw(st.lists(st.sampled_from(STREAM_KEYS), min_size=1, unique=True)):
        fields: dict[str, Any] = {"name": draw(st.sampled_from([key, f"{key} title"]))}
        for field, values in (
            ("active", st.booleans()),
            ("dvr_enabled", st.booleans()),
            ("dvr_duration", st.integers(30, 14400)),
            ("record_type", st.sampled_from(["origin", "transcoded"])),
            ("transcoding_region", st.sampled_from(["ix1", "dt1"])),
            ("client_user_id", st.none() | st.integers(1, 10**6)),
        ):
            if draw(st.booleans()):
                fields[field] = draw(values)
        user = draw(st.none() | st.fixed_dictionaries({"team": st.sampled_from(["news", "sport"])}))
        streams[key] = DesiredStream(key=key, fields=fields, user_entity_data=user)
    broadcasts: dict[str, DesiredBroadcast] = {}
    for key in draw(st.lists(st.sampled_from(BROADCAST_KEYS), unique=True)):
        uses = draw(st.lists(st.sampled_from(sorted(streams)), min_size=1, unique=True))
        fields = {"name": key}
        if draw(st.booleans()):
            fields["status"] = draw(st.sampled_from(["pending", "live", "paused", "finished"]))
        if draw(st.booleans()):
            fields["pending_message"] = draw(st.sampled_from(["soon", "Please wait ..."]))
        broadcasts[key] = DesiredBroadcast(key=key, fields=fields, stream_keys=tuple(uses))
    return DesiredState(
        # Prune guards off: this property is about convergence; the guards have their own tests.
        settings=Settings(
            set_name=SET, max_deletions=100, max_deletion_percent=100.0, allow_empty_prune=True
        ),
        streams=streams,
        broadcasts=broadcasts,
    )


# Drift a person or another tool could cause between two runs.
DRIFTS = st.lists(
    st.sampled_from(
        [
            "patch_dvr",
            "toggle_active",
            "rename_stream",
            "broadcast_status",
            "delete_broadcast",
            "delete_stream",
            "wipe_user_data",
        ]
    ),
    max_size=4,
)


def http(sim: Simulator) -> httpx.Client:
    return httpx.Client(
        base_url="http://sim",
        transport=sim.transport(),
        headers={"Authorization": f"APIKey {KEY}"},
    )


def drift(sim: Simulator, api: StreamingClient, kinds: list[str], pick: Any) -> None:
    ours = [s for s in api.list_streams() if decode_entity_data(s.get("client_entity_data")).marker]
    shows = api.list_broadcasts()
    with http(sim) as client:
        for kind in kinds:
            if kind in ("broadcast_status", "delete_broadcast"):
                if not shows:
                    continue
                show = pick(shows)
                if kind == "delete_broadcast":
                    client.delete(f"/streaming/broadcasts/{show['id']}")
                    shows.remove(show)
                else:
                    body = {"broadcast": {"status": pick(["pending", "live", "finished"])}}
                    client.patch(f"/streaming/broadcasts/{show['id']}", json=body)
            elif ours:
                cam = pick(ours)
                path = f"/streaming/streams/{cam['id']}"
                if kind == "delete_stream":
                    client.delete(path)
                    ours.remove(cam)
                    continue
                change = {
                    "patch_dvr": {"dvr_duration": 77, "dvr_enabled": not cam.get("dvr_enabled")},
                    "toggle_active": {"active": not cam.get("active")},
                    "rename_stream": {"name": "renamed by hand"},
                    "wipe_user_data": {
                        "client_entity_data": _without_user_data(cam["client_entity_data"])
                    },
                }[kind]
                client.patch(path, json={"stream": change})


def _without_user_data(raw: str) -> str:
    return json.dumps({"reconciler": json.loads(raw)["reconciler"]})


def run_once(desired: DesiredState, api: StreamingClient) -> Any:
    live = read_account(api)
    plan = plan_for(desired, live, api, RunOptions())
    return apply_plan(plan, api, live, workers=4, set_name=SET)


@PROPS
@given(first=desired_states(), second=desired_states(), kinds=DRIFTS, data=st.data())
def test_one_apply_converges_from_random_drift(
    first: DesiredState, second: DesiredState, kinds: list[str], data: st.DataObject
) -> None:
    sim = Simulator(SimulatorConfig(api_key=KEY))
    api = StreamingClient(
        "http://sim", KEY, transport=sim.transport(), settings=ClientSettings(rate_limit=None)
    )
    try:
        with http(sim) as client:  # an object this set does not own, before and after
            foreign = client.post("/streaming/streams", json={"name": "cam-a"}).json()

        assert run_once(first, api).exit_code == 0
        drift(sim, api, kinds, lambda seq: data.draw(st.sampled_from(seq)))

        report = run_once(second, api)
        failed = [r for r in report.results if r.outcome is not Outcome.DONE]
        assert failed == [], failed
        again = plan_for(second, read_account(api), api, RunOptions())
        assert again.changes == (), again.changes

        assert api.get_stream(foreign["id"]) == foreign
        writes = [r for r in sim.requests() if r["method"] != "GET"]
        assert not any(str(foreign["id"]) in r["path"] for r in writes)
    finally:
        api.close()
        sim.close()
