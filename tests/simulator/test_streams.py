"""Streams endpoints of the simulator: CRUD, pagination, computed fields, validation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from reconciler.simulator import Simulator, SimulatorConfig
from tests.simulator.helpers import KEY, client, new_stream


@pytest.fixture
def c(sim: Simulator) -> Any:
    with client(sim) as http:
        yield http


def test_create_flat_and_wrapped_return_full_object(c: Any) -> None:
    flat = c.post("/streaming/streams", json={"name": "flat"})
    wrapped = c.post("/streaming/streams", json={"stream": {"name": "wrapped", "active": False}})
    assert flat.status_code == wrapped.status_code == 200
    body = wrapped.json()
    assert body["name"] == "wrapped"
    assert body["id"] != flat.json()["id"]
    assert body["live"] is False and body["recording"] is False
    assert body["dvr_duration"] == 3600 and body["projection"] == "regular"
    token = body["token"]
    assert body["push_url"] == f"rtmp://vp-push-ed1.gvideo.co/in/{body['id']}?{token}"
    assert body["backup_push_url"] == f"rtmp://vp-push-ed1.gvideo.co/in/{body['id']}b?{token}"
    assert body["push_url_srt"] == (
        f"srt://vp-push-ed1-srt.gvideo.co:5001?streamid={body['id']}#{token}"
    )


def test_get_patch_delete(c: Any, sim: Simulator) -> None:
    stream = new_stream(c, transcoding_region="ix1", client_user_id=7)
    sid = stream["id"]
    assert c.get(f"/streaming/streams/{sid}").json() == stream
    patched = c.patch(f"/streaming/streams/{sid}", json={"stream": {"transcoding_region": "dt1"}})
    assert patched.status_code == 200
    body = patched.json()
    assert body["id"] == sid and body["token"] == stream["token"]
    assert body["client_user_id"] == 7  # omitted fields unchanged
    assert body["push_url"].startswith("rtmp://vp-push-dt1.gvideo.co/in/")
    assert c.delete(f"/streaming/streams/{sid}").status_code == 204
    missing = c.get(f"/streaming/streams/{sid}")
    assert missing.status_code == 404
    assert missing.json()["status"] == 404 and "error" in missing.json()


def test_list_pages_of_25_then_empty(c: Any) -> None:
    ids = [new_stream(c, name=f"s{i}")["id"] for i in range(30)]
    page1 = c.get("/streaming/streams", params={"page": 1}).json()
    page2 = c.get("/streaming/streams", params={"page": 2}).json()
    page3 = c.get("/streaming/streams", params={"page": 3}).json()
    assert [s["id"] for s in page1 + page2] == ids
    assert (len(page1), len(page2), page3) == (25, 5, [])
    assert c.get("/streaming/streams").json() == page1  # page defaults to 1


def test_auth_required(sim: Simulator) -> None:
    with client(sim, key="wrong") as bad:
        response = bad.get("/streaming/streams")
    assert response.status_code == 401
    with client(sim) as good:
        lower = good.get("/streaming/streams", headers={"Authorization": f"apikey {KEY}"})
    assert lower.status_code == 200


def test_validation_errors_are_422_and_change_nothing(c: Any, sim: Simulator) -> None:
    response = c.post(
        "/streaming/streams",
        json={
            "name": "",
            "projection": "flat",
            "dvr_duration": 5,
            "client_entity_data": "x" * 4097,
        },
    )
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert set(errors) == {"name", "projection", "dvr_duration", "client_entity_data"}
    assert c.get("/streaming/streams").json() == []


def test_active_stream_quota() -> None:
    sim = Simulator(SimulatorConfig(api_key=KEY, active_stream_limit=1))
    with client(sim) as c:
        new_stream(c, active=True)
        refused = c.post("/streaming/streams", json={"name": "b", "active": True})
        assert refused.status_code == 422 and "active" in refused.json()["errors"]
        other = new_stream(c)
        patch = c.patch(f"/streaming/streams/{other['id']}", json={"stream": {"active": True}})
        assert patch.status_code == 422
        assert c.get(f"/streaming/streams/{other['id']}").json()["active"] is False
    sim.close()


def test_pages_and_quota_follow_deletes_deactivations_and_a_restart(tmp_path: Path) -> None:
    """Pages are 25 in ascending id order and the quota counts active streams exactly, after
    deletes anywhere (first, middle, last), deactivations, and a restart from the state file."""
    path = str(tmp_path / "state.sqlite")
    sim = Simulator(SimulatorConfig(api_key=KEY, active_stream_limit=60, state_path=path))
    with client(sim) as c:
        ids = [new_stream(c, name=f"s{i}", active=True)["id"] for i in range(60)]
        for sid in (ids[0], ids[30], ids[59]):
            assert c.delete(f"/streaming/streams/{sid}").status_code == 204
        c.patch(f"/streaming/streams/{ids[1]}", json={"stream": {"active": False}})
        kept = [i for i in ids if i not in (ids[0], ids[30], ids[59])]
        assert _listed(c) == kept
        added = new_stream(c, name="57th active", active=True)["id"]
    sim.close()
    sim = Simulator(SimulatorConfig(api_key=KEY, active_stream_limit=58, state_path=path))
    with client(sim) as c:
        assert _listed(c) == [*kept, added]
        assert new_stream(c, name="58th active", active=True)["id"] == added + 1
        assert _refused(c, "59th active")
        assert c.delete(f"/streaming/streams/{ids[2]}").status_code == 204
        assert new_stream(c, name="58th again", active=True)["id"] == added + 2
        assert _listed(c) == [i for i in kept if i != ids[2]] + [added, added + 1, added + 2]
    sim.close()


def _listed(c: Any) -> list[int]:
    """Every stream id, page by page: full pages of 25 until a short one, then an empty one."""
    pages = [c.get("/streaming/streams", params={"page": 1}).json()]
    while pages[-1]:
        pages.append(c.get("/streaming/streams", params={"page": len(pages) + 1}).json())
    assert all(len(page) == 25 for page in pages[:-2]) and len(pages[-2]) <= 25
    return [s["id"] for page in pages for s in page]


def _refused(c: Any, name: str) -> bool:
    refused = c.post("/streaming/streams", json={"name": name, "active": True})
    return bool(refused.status_code == 422 and "active" in refused.json()["errors"])


def test_region_defaults_to_ed1_and_patch_to_null_restores_it(c: Any) -> None:
    stream = new_stream(c)
    assert stream["transcoding_region"] == "ed1"
    sid = stream["id"]
    c.patch(f"/streaming/streams/{sid}", json={"stream": {"transcoding_region": "ix1"}})
    back = c.patch(f"/streaming/streams/{sid}", json={"stream": {"transcoding_region": None}})
    assert back.json()["transcoding_region"] == "ed1"
    assert "vp-push-ed1." in back.json()["push_url"]


def test_dvr_cleanup_is_204(c: Any) -> None:
    sid = new_stream(c, dvr_enabled=True)["id"]
    assert c.put(f"/streaming/streams/{sid}/dvr_cleanup").status_code == 204


def test_parallel_creates_are_all_kept_with_unique_ids(sim: Simulator) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def create(i: int) -> int:
        with client(sim) as http:
            return int(new_stream(http, name=f"p{i}")["id"])

    with ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(create, range(80)))
    assert len(set(ids)) == 80
    assert sim.counters() == {"POST /streaming/streams": 80}
    with client(sim) as http:
        listed = [s["id"] for p in (1, 2, 3, 4) for s in http.get(
            "/streaming/streams", params={"page": p}).json()]  # fmt: skip
    assert sorted(listed) == sorted(ids)
