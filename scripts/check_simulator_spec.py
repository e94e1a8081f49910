#!/usr/bin/env python3
"""Validate the simulator's responses against the official Gcore Streaming OpenAPI schemas.

Plays a scenario (streams with every writable field, live ingest, recordings, videos in every
status, broadcasts, errors) on an in-process simulator and checks each response body against the
spec's schema for that operation. Also lists the fields the simulator returns that the spec does
not define (the known spec gaps it fills). Lives outside the tests: it needs the spec file.

    python scripts/check_simulator_spec.py [--spec ../shared/gcore/streaming-openapi.yaml]

Exit 0 when every response validates, 1 otherwise.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import yaml

from reconciler.simulator import Simulator, SimulatorConfig

KEY = "spec-check-key"
DEFAULT_SPEC = Path(__file__).resolve().parents[2] / "shared" / "gcore" / "streaming-openapi.yaml"


def nullable_aware(node: Any) -> Any:
    """OpenAPI 3.0-style `nullable: true` / `default: null` -> JSON Schema `type: [t, "null"]`.

    The spec declares 3.1 but marks nullable fields the 3.0 way; the SDKs type them Optional.
    """
    if isinstance(node, list):
        return [nullable_aware(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: nullable_aware(v) for k, v in node.items()}
    if (
        out.get("nullable") is True or ("default" in out and out["default"] is None)
    ) and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
        if "enum" in out and None not in out["enum"]:
            out["enum"] = [*out["enum"], None]
    return out


class Checker:
    def __init__(self, spec: dict[str, Any]) -> None:
        self.components = nullable_aware(spec["components"])
        self.failures: list[str] = []
        self.checked: dict[str, int] = defaultdict(int)
        self.extra_fields: dict[str, set[str]] = defaultdict(set)

    def properties(self, name: str) -> set[str]:
        schema = self.components["schemas"][name]
        props: set[str] = set(schema.get("properties", {}))
        for part in schema.get("allOf", []):
            if "$ref" in part:
                props |= self.properties(part["$ref"].rsplit("/", 1)[1])
            props |= set(part.get("properties", {}))
        return props

    def check(self, label: str, schema_name: str, value: Any) -> None:
        root = {"components": self.components, "$ref": f"#/components/schemas/{schema_name}"}
        validator = jsonschema.Draft202012Validator(root)
        self.checked[schema_name] += 1
        for error in validator.iter_errors(value):
            where = "/".join(str(p) for p in error.absolute_path) or "(root)"
            self.failures.append(f"{label}: {schema_name} at {where}: {error.message}")
        if isinstance(value, dict):
            self.extra_fields[schema_name] |= set(value) - self.properties(schema_name)

    def check_list(self, label: str, schema_name: str, response: httpx.Response) -> None:
        body = response.json()
        if not isinstance(body, list):
            self.failures.append(f"{label}: expected a bare array, got {type(body).__name__}")
            return
        for item in body:
            self.check(label, schema_name, item)

    def expect(self, label: str, response: httpx.Response, status: int) -> None:
        if response.status_code != status:
            self.failures.append(f"{label}: status {response.status_code}, expected {status}")


def scenario(sim: Simulator, ck: Checker) -> None:
    c = httpx.Client(
        base_url="http://spec.invalid",
        transport=sim.transport(),
        headers={"Authorization": f"APIKey {KEY}"},
    )
    full = {
        "name": "full", "active": True, "pull": False, "uri": None,
        "srt_passphrase": "0123456789abc", "auto_record": False, "record_type": "transcoded",
        "hls_mpegts_endlist_tag": False, "dvr_enabled": True, "dvr_duration": 7200,
        "cdn_id": 53949, "client_user_id": 12, "client_entity_data": '{"reconciler": {}}',
        "html_overlay": True, "quality_set_id": 3, "projection": "vr360",
        "transcoding_region": "ix1",
    }  # fmt: skip
    created = c.post("/streaming/streams", json=full)
    ck.expect("create stream (all fields)", created, 200)
    ck.check("create stream (all fields)", "stream", created.json())
    minimal = c.post("/streaming/streams", json={"stream": {"name": "minimal"}})
    ck.check("create stream (minimal)", "stream", minimal.json())
    sid, other = created.json()["id"], minimal.json()["id"]

    broadcast = c.post(
        "/streaming/broadcasts",
        json={"broadcast": {"name": "b", "status": "pending", "stream_ids": [sid],
                            "pending_message": "wait", "ad_id": None}},
    )  # fmt: skip
    ck.expect("create broadcast", broadcast, 200)
    ck.check("create broadcast", "broadcast", broadcast.json())
    bid = broadcast.json()["id"]
    patched_b = c.patch(f"/streaming/broadcasts/{bid}", json={"broadcast": {"status": "live"}})
    ck.check("patch broadcast", "broadcast", patched_b.json())
    ck.check("get broadcast", "broadcast", c.get(f"/streaming/broadcasts/{bid}").json())
    ck.check_list("list broadcasts", "broadcast", c.get("/streaming/broadcasts"))
    ck.check("spectators", "broadcastSpectators",
             c.get(f"/streaming/broadcasts/{bid}/spectators").json())  # fmt: skip

    sim.connect(sid)
    sim.connect(sid, backup=True)
    ck.check("live stream", "stream", c.get(f"/streaming/streams/{sid}").json())
    ck.expect("start recording", c.put(f"/streaming/streams/{sid}/start_recording"), 204)
    sim.advance(30)
    ck.check("recording stream", "stream", c.get(f"/streaming/streams/{sid}").json())
    stopped = c.put(f"/streaming/streams/{sid}/stop_recording")
    ck.check("stop recording", "videoDetails", stopped.json())
    vid = stopped.json()["id"]
    for step in (0, 25, 60):  # pending, viewable, ready
        sim.advance(step)
        ck.check(f"video after {step}s", "videoDetails", c.get(f"/streaming/videos/{vid}").json())
        ck.check_list("list videos", "videoListItem", c.get("/streaming/videos"))
    ck.check_list("videos of a stream", "videoListItem",
                  c.get("/streaming/videos", params={"stream_id": sid}))  # fmt: skip
    patched = c.patch(f"/streaming/streams/{other}", json={"stream": {"active": True}})
    ck.check("patch stream", "stream", patched.json())
    ck.check_list("list streams", "stream", c.get("/streaming/streams"))
    ck.check_list("list streams with broadcasts", "stream",
                  c.get("/streaming/streams", params={"with_broadcasts": 1}))  # fmt: skip
    ck.check("reset push token", "stream",
             c.post(f"/streaming/streams/{other}/reset_push_token").json())  # fmt: skip
    ck.expect("dvr cleanup", c.put(f"/streaming/streams/{sid}/dvr_cleanup"), 204)

    missing = c.get("/streaming/streams/1")
    ck.expect("unknown stream", missing, 404)
    ck.check("unknown stream", "notfound", missing.json())
    bad_page = c.get("/streaming/streams", params={"page": "x"})
    ck.check("bad page", "badrequest", bad_page.json())
    invalid = c.post("/streaming/streams", json={"name": ""})
    ck.expect("blank name", invalid, 422)
    if invalid.json() != {"errors": {"name": ["can't be blank"]}}:
        ck.failures.append(f"blank name: 422 body {invalid.json()} differs from the spec example")
    ck.expect("delete broadcast", c.delete(f"/streaming/broadcasts/{bid}"), 204)
    ck.expect("delete stream", c.delete(f"/streaming/streams/{sid}"), 204)
    ck.expect("delete video", c.delete(f"/streaming/videos/{vid}"), 204)
    c.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spec", type=Path, default=DEFAULT_SPEC)
    args = parser.parse_args()
    if not args.spec.is_file():
        print(f"spec not found: {args.spec}", file=sys.stderr)
        return 2
    checker = Checker(yaml.safe_load(args.spec.read_text()))
    sim = Simulator(SimulatorConfig(api_key=KEY))
    try:
        scenario(sim, checker)
    finally:
        sim.close()
    total = sum(checker.checked.values())
    counts = ", ".join(f"{name} x{n}" for name, n in sorted(checker.checked.items()))
    print(f"validated {total} response bodies against {args.spec.name}: {counts}")
    for name, fields in sorted(checker.extra_fields.items()):
        if fields:
            print(f"  spec gap filled, {name} also returns: {', '.join(sorted(fields))}")
    if checker.failures:
        print(f"{len(checker.failures)} FAILURE(S):")
        for failure in checker.failures:
            print(f"  {failure}")
        return 1
    print("OK: every response matches the spec's schemas")
    return 0


if __name__ == "__main__":
    sys.exit(main())
