"""Export and status as pure functions: what is left out, generated keys, skipped objects, rows."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from reconciler.export import export_manifests, unique_key
from reconciler.manifest.loader import load_manifests
from reconciler.model.live import LiveVideo
from reconciler.model.marker import LOCK_KEY
from reconciler.plan.compute import compute_plan
from reconciler.status import collect_status, region_of, render_status
from tests.safety.safety_factories import (
    desired_state,
    desired_stream,
    live_broadcast,
    live_state,
    live_stream,
)


def docs(text: str) -> list[dict[str, object]]:
    return [d for d in yaml.safe_load_all(text) if d]


def test_owned_objects_are_exported_without_server_fields() -> None:
    live = live_state(
        [
            live_stream(
                7,
                "Studio A",
                key="studio-a",
                broadcasts={"weekly": 3},
                user_data={"team": "news"},
                dvr_duration=600,
                srt_passphrase="correct-horse-battery",
                uri=None,
                started_at_primary="2026-11-01T00:00:00Z",
            ),
            live_stream(8, "plain"),
        ],
        [live_broadcast(3, "weekly", [7], "live", pending_message="Soon")],
    )
    text = export_manifests(live, set_name="prod")
    settings, stream, broadcast = docs(text)
    assert settings == {"kind": "Settings", "name": "prod"}
    assert stream == {
        "kind": "Stream",
        "name": "studio-a",
        "spec": {  # null fields (client_user_id, uri) and read-only ones are left out
            "name": "Studio A",
            "active": False,
            "dvr_duration": 600,
            "client_entity_data": {"team": "news"},
        },
    }
    assert broadcast == {
        "kind": "Broadcast",
        "name": "weekly",
        "spec": {"status": "live", "pending_message": "Soon", "streams": ["studio-a"]},
    }
    assert "correct-horse-battery" not in text and "tok00000007" not in text
    assert "# srt_passphrase is set on the account and not exported" in text
    assert "plain" not in text


def test_unowned_objects_get_adopt_and_unique_keys_and_doubtful_ones_are_skipped() -> None:
    live = live_state(
        [
            live_stream(1, "cam", key="cam-2"),
            live_stream(2, "Cam!"),  # slug "cam-2" would collide with the owned key
            live_stream(3, "lock", user_data={LOCK_KEY: {"set": "prod"}}),
            live_stream(4, "theirs", key="x", set_name="other"),
            live_stream(5, "notes", client_entity_data="free text"),
        ],
        [
            live_broadcast(10, "Mixed", [2, 4]),
            live_broadcast(11, "Solo", [2]),
        ],
    )
    text = export_manifests(live, set_name="prod", include_unowned=True)
    names = [(d["kind"], d["name"], d.get("adopt")) for d in docs(text)]
    assert names == [
        ("Settings", "prod", None),
        ("Stream", "cam-2", None),
        ("Stream", "cam-2-2", 2),
        ("Broadcast", "solo-11", 11),
    ]
    assert "# skipped: stream 5 ('notes') is not exported: its client_entity_data is not" in text
    assert "# skipped: broadcast 10 ('Mixed') is not exported: it uses streams" in text


def test_a_secret_in_a_string_field_becomes_an_environment_reference() -> None:
    live = live_state(
        [live_stream(1, "pull", key="pull", pull=True, uri="rtmp://u:p4ssword@origin/x?token=s3")]
    )
    text = export_manifests(live, set_name="prod")
    assert "p4ssword" not in text and "s3" not in text.replace("${PULL_URI}", "")
    assert docs(text)[1]["spec"]["uri"] == "${PULL_URI}"  # type: ignore[index]
    assert "# uri holds a secret: set PULL_URI in the environment before applying" in text


def test_an_invalid_value_is_left_out_with_a_comment() -> None:
    live = live_state([live_stream(1, "s", key="s", dvr_duration=5, projection="flat")])
    text = export_manifests(live, set_name="prod")
    spec = docs(text)[1]["spec"]
    assert "dvr_duration" not in spec and "projection" not in spec  # type: ignore[operator]
    assert "# dvr_duration is left out: its value in the account is not valid here" in text


def test_unique_keys_are_valid_manifest_keys() -> None:
    used: set[str] = set()
    assert unique_key("Ünïcode Show!!", 12, "broadcast", used) == "n-code-show-12"
    assert unique_key("", 12, "stream", used) == "stream-12"
    assert unique_key("x" * 100, 99, "stream", used) == "x" * 40 + "-99"


def test_status_rows_and_text() -> None:
    live = live_state(
        [
            live_stream(7, "cam", key="cam", live=True, recording=True, active=True),
            live_stream(8, "b", key="b", push_url="rtmp://vp-push-dt1.gvideo.co/in/8?tok"),
        ]
    )
    desired = desired_state([desired_stream("cam"), desired_stream("b"), desired_stream("new")])
    videos = {
        7: [
            {
                "id": 1,
                "name": "r1",
                "status": "ready",
                "duration": 48410,
                "stream_id": 7,
                "created_at": "2026-11-01T00:00:00Z",
            },
            {
                "id": 2,
                "name": "r2",
                "status": "pending",
                "duration": 3_723_000,
                "stream_id": 7,
                "created_at": "2026-11-02T00:00:00Z",
            },
            {"id": 3, "name": "other", "status": "ready", "stream_id": 9},
        ]
    }
    parsed = {sid: [LiveVideo.parse(v) for v in listed] for sid, listed in videos.items()}
    rows = collect_status(desired, live, parsed, video_errors={8: "GET /streaming/videos -> 500"})
    assert [r.key for r in rows] == ["b", "cam", "new"]
    assert rows[0].region == "dt1" and rows[0].recordings_error == "GET /streaming/videos -> 500"
    assert [r.id for r in rows[1].recordings] == [2, 1]
    assert not rows[2].exists
    assert render_status(rows) == (
        "STREAM  ID  LIVE  BACKUP  RECORDING  ACTIVE  REGION\n"
        "b       8   no    no      no         no      dt1\n"
        "    recordings: could not be read (GET /streaming/videos -> 500)\n"
        "cam     7   yes   no      yes        yes     ix1\n"
        "    recordings (latest first):\n"
        "      2  pending   1h02m03s  r2\n"
        "      1  ready        48.4s  r1\n"
        "new     -   -     -       -          -       -\n"
        "    not in the account (declared; the next apply creates it)\n"
        "3 stream(s), 1 live, 1 recording.\n"
    )
    data = json.loads(render_status(rows, "json"))
    assert data["streams"][1]["recordings"][0] == {
        "id": 2,
        "name": "r2",
        "status": "pending",
        "duration_ms": 3723000,
        "created_at": "2026-11-02T00:00:00Z",
    }
    assert data["streams"][2]["exists"] is False


def test_region_prefers_the_declared_region() -> None:
    assert region_of({"transcoding_region": "ix1", "push_url": "rtmp://vp-push-dt1.x/in/1?t"}) == (
        "ix1"
    )
    assert region_of({"push_url": "srt://elsewhere/in"}) is None


def test_an_unowned_stream_whose_own_json_uses_the_reserved_key_is_skipped() -> None:
    # Adopting it would overwrite the user's "reconciler" value, which the planner refuses.
    live = live_state(
        [live_stream(7, "legacy", client_entity_data=json.dumps({"reconciler": "v2 pipeline"}))]
    )
    text = export_manifests(live, set_name="prod", include_unowned=True)
    assert [d["kind"] for d in docs(text)] == ["Settings"]
    assert (
        "# skipped: stream 7 ('legacy') is not exported: its own client_entity_data uses the key "
        "'reconciler' that holds our marker" in text
    )


def test_a_secret_anywhere_becomes_a_reference_the_loader_reads(tmp_path: Path) -> None:
    live = live_state(
        [
            live_stream(
                1,
                "cam",
                key="1cam",  # a key may start with a digit; a variable name may not
                pull=True,
                uri="rtmp://u:p4ssword@origin/x",
                user_data={"backup": ["rtmp://u:s3cret@b/x", {"u-rl": "https://h/?token=t0k"}]},
            )
        ]
    )
    text = export_manifests(live, set_name="prod")
    assert "p4ssword" not in text and "s3cret" not in text and "t0k" not in text
    assert docs(text)[1]["spec"] == {  # type: ignore[index]
        "name": "cam",
        "active": False,
        "pull": True,
        "uri": "${_1CAM_URI}",
        "client_entity_data": {
            "backup": [
                "${_1CAM_CLIENT_ENTITY_DATA_BACKUP_0}",
                {"u-rl": "${_1CAM_CLIENT_ENTITY_DATA_BACKUP_1_U_RL}"},
            ]
        },
    }
    assert (
        "# client_entity_data.backup[1].u-rl holds a secret: set "
        "_1CAM_CLIENT_ENTITY_DATA_BACKUP_1_U_RL in the environment before applying\n" in text
    )
    (tmp_path / "e.yaml").write_text(text)
    env = {
        "_1CAM_URI": "rtmp://u:p4ssword@origin/x",
        "_1CAM_CLIENT_ENTITY_DATA_BACKUP_0": "rtmp://u:s3cret@b/x",
        "_1CAM_CLIENT_ENTITY_DATA_BACKUP_1_U_RL": "https://h/?token=t0k",
    }
    desired = load_manifests([tmp_path / "e.yaml"], environ=env)
    assert compute_plan(desired, live).is_empty
