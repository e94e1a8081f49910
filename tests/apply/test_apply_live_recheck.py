"""Issue 9 item 5: live-safety is re-checked at the moment of the write. An encoder that connects
after the plan's read (under the lock) holds the delete, deactivation, region change or finish
that the plan allowed: one GET of the object just before the write, the change reported HELD
with the reason and `apply` exits 3. Through the real `reconciler apply` on the simulator."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from cli_harness import Invoke

from tests.apply.apply_support import Hooked, markers

SETTINGS = "kind: Settings\nname: s\n"
SINGLE = re.compile(r"/streaming/(streams|broadcasts)/(\d+)$")


@dataclass(frozen=True)
class Case:
    before: str  # the manifests first applied (cam idle)
    after: str  # the change the plan allows, since cam is idle when it is read
    reason: str  # the held reason apply prints
    flags: tuple[str, ...] = ()
    opt_in: str = "allow with policy.allow_live_changes or --allow-live-changes"


def cam(spec: str) -> str:
    return f"---\nkind: Stream\nname: cam\nspec: {{{spec}}}\n"


SHOW = "---\nkind: Broadcast\nname: show\nspec: {{status: {status}, streams: [cam]}}\n"
CASES = {
    "delete": Case(
        SETTINGS + cam("active: true") + cam("active: true").replace("cam", "spare"),
        SETTINGS + cam("active: true").replace("cam", "spare"),
        "stream 'cam' (id {sid}) is live; deleting it waits until it is idle",
        ("--max-deletion-percent", "100"),
        "allow with --allow-live-changes",  # cam's document is gone: no policy can allow it
    ),
    "deactivate": Case(
        SETTINGS + cam("active: true"),
        SETTINGS + cam("active: false"),
        "stream 'cam' (id {sid}) is live; deactivating it waits until it is idle",
    ),
    "region": Case(
        SETTINGS + cam("active: true, transcoding_region: ix1"),
        SETTINGS + cam("active: true, transcoding_region: dt1"),
        "stream 'cam' (id {sid}) is live; region change ix1 -> dt1 waits until it is idle",
    ),
    "finish": Case(
        SETTINGS + cam("active: true") + SHOW.format(status="live"),
        SETTINGS + cam("active: true") + SHOW.format(status="finished"),
        "broadcast 'show' (id {bid}) shows stream 'cam' (id {sid}), which is live; finishing it "
        "waits until the stream is idle",
    ),
}


class ConnectMidApply:
    """Connects an encoder to `stream_id` at the first request about a single object (a GET
    just before a write, or the write itself): after the read that planned under the lock."""

    def __init__(self, sim: Any, stream_id: int) -> None:
        self.sim, self.stream_id, self.connected = sim, stream_id, False

    def __call__(self, request: httpx.Request) -> None:
        single = SINGLE.search(request.url.path) and request.method != "POST"
        if single and not self.connected:
            self.connected = True
            self.sim.connect(self.stream_id)


def ids(api: Any) -> tuple[int, int | None]:
    stream, _data = markers(api)["cam"]
    broadcasts = api.list_broadcasts()
    return stream["id"], broadcasts[0]["id"] if broadcasts else None


@pytest.mark.parametrize("name", sorted(CASES))
def test_an_encoder_connecting_mid_apply_holds_the_disruptive_write(
    name: str, sim: Any, api: Any, tmp_path: Path
) -> None:
    case = CASES[name]
    run = Invoke(sim)
    path = tmp_path / "set.yaml"
    path.write_text(case.before)
    assert run("apply", "--yes", path).exit_code == 0
    sid, bid = ids(api)
    before = (markers(api)["cam"][0], api.list_broadcasts())

    path.write_text(case.after)
    assert run("plan", "--detailed-exitcode", *case.flags, path).exit_code == 2  # cam is idle
    sim.clear_log()
    run.transport = Hooked(sim, ConnectMidApply(sim, sid))
    applied = run("apply", "--yes", *case.flags, path)

    assert applied.exit_code == 3, applied.output
    reason = case.reason.format(sid=sid, bid=bid)
    assert f"{reason}; {case.opt_in}" in applied.output
    assert "1 held" in applied.output
    now = markers(api)["cam"][0]
    assert now["live"] is True
    for field in ("active", "transcoding_region", "id"):
        assert now.get(field) == before[0].get(field)
    assert api.list_broadcasts() == before[1]  # status unchanged (the log's GETs aside)
    writes = [r for r in sim.requests() if r["method"] != "GET" and str(sid) in r["path"]]
    assert writes == []
    gets = [r["path"] for r in sim.requests() if r["method"] == "GET" and SINGLE.search(r["path"])]
    assert gets == [f"/streaming/streams/{sid}"]  # the one re-read, just before the write


def test_an_allowed_live_change_goes_through_without_a_re_read(
    sim: Any, api: Any, tmp_path: Path
) -> None:
    case = CASES["deactivate"]
    run = Invoke(sim)
    path = tmp_path / "set.yaml"
    path.write_text(case.before)
    assert run("apply", "--yes", path).exit_code == 0
    sid, _bid = ids(api)
    path.write_text(case.after)
    sim.clear_log()
    run.transport = Hooked(sim, ConnectMidApply(sim, sid))
    applied = run("apply", "--yes", "--allow-live-changes", path)
    assert applied.exit_code == 0, applied.output
    assert markers(api)["cam"][0]["active"] is False
    assert not [r for r in sim.requests() if r["method"] == "GET" and SINGLE.search(r["path"])]


def test_a_cleanup_deletion_of_a_stream_gone_live_mid_apply_is_held(tmp_path: Path) -> None:
    from reconciler.simulator import Simulator, SimulatorConfig
    from tests.conftest import API_KEY

    sim = Simulator(SimulatorConfig(api_key=API_KEY))
    try:
        run = Invoke(sim)
        (tmp_path / "users.txt").write_text("1\n")
        path = tmp_path / "set.yaml"
        path.write_text(
            SETTINGS
            + cam("active: false")
            + "---\nkind: Cleanup\nname: stale\nspec:\n  idle_for: 30d\n"
            + "  active_users: {file: users.txt}\n"
        )
        stale = run.transport.handle_request(
            httpx.Request(
                "POST",
                "http://simulator.invalid/streaming/streams",
                json={"stream": {"name": "user-7", "client_user_id": 7, "active": True}},
                headers={"Authorization": f"APIKey {API_KEY}"},
            )
        )
        stale.read()
        sid = stale.json()["id"]
        sim.advance(40 * 86_400)  # idle for 40 days by the platform's clock
        assert f"#{sid}" in run("plan", path).output
        run.transport = Hooked(sim, ConnectMidApply(sim, sid))
        applied = run("apply", "--yes", path)
        assert applied.exit_code == 3, applied.output
        assert f"(id {sid}) is live; deleting it waits until it is idle" in applied.output
        assert not [r for r in sim.requests() if r["method"] == "DELETE" and str(sid) in r["path"]]
        assert sid in {s["id"] for s in markers_free(sim)}
    finally:
        sim.close()


def markers_free(sim: Any) -> list[dict[str, Any]]:
    """Every stream of the account, read straight from the simulator."""
    from reconciler.api.client import ClientSettings, StreamingClient
    from tests.conftest import API_KEY

    with StreamingClient(
        "http://simulator.invalid",
        API_KEY,
        transport=sim.transport(),
        settings=ClientSettings(rate_limit=None),
    ) as api:
        streams: list[dict[str, Any]] = api.list_streams()
    return streams
