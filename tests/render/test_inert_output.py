"""Issue 9 item 12: a hostile name, from the manifests or from the account, prints inert in every
format: no control character or line break reaches a terminal, JSON stays valid and exact, and a
markdown plan or report has exactly the structure the renderer itself emits (same fences,
headings, HTML tags and mentions as for a plain name). Through the real CLI."""

from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path
from typing import Any

import pytest
import yaml
from cli_harness import Invoke, Run

from reconciler.redact import forget_secrets
from reconciler.simulator import Simulator, SimulatorConfig

HOSTILE = (
    "x\n```\n</details>\n\n# Owned @everyone <!-- \x1b]0;pwned\x07\x1b[2J\x9b2J\u202e"
    "\r\nApply: 9 done, 0 failed, 0 skipped, 0 held. The account matches the manifests.\n"
    "| a | b |\n~~~\n<img src=x onerror=alert(1)> [click](https://evil.example) **bold**"
)
PLAIN = "Plain name"
KEY = "gc-5a1d2a9be07c4d5e8a6b3c2d1e0f9a8b"
AUTH = {"Authorization": f"APIKey {KEY}"}
FORGED_LINE_STARTS = ("# Owned", "Apply: 9 done", "| a | b |", "~~~", "<img", "```\n</details>")


# --- what "inert" means, checked on what the CLI printed ----------------------------------------


def acting_characters(text: str) -> list[str]:
    """Characters that act instead of showing (the renderer's own line breaks excepted)."""
    return [
        ch
        for ch in text
        if ch != "\n" and unicodedata.category(ch) in {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}
    ]


def assert_inert_text(text: str) -> None:
    assert acting_characters(text) == [], text
    for line in text.split("\n"):
        assert not line.startswith(FORGED_LINE_STARTS[1:]), line


def markdown_structure(text: str) -> dict[str, Any]:
    """A small CommonMark reading: fences (opening length, closed by a run at least as long),
    and outside fences the headings, HTML tags and comments, raw mentions, table rows."""
    found: dict[str, Any] = {"fences": 0, "headings": [], "html": [], "mentions": 0, "rows": 0}
    fence = ""
    for line in text.split("\n"):
        marker = re.match(r" {0,3}(`{3,}|~{3,})", line)
        if fence:
            closing = marker and line.strip() == marker.group(1)
            if closing and marker.group(1)[0] == fence[0] and len(marker.group(1)) >= len(fence):
                fence = ""
            continue
        if marker:
            fence = marker.group(1)
            found["fences"] += 1
            continue
        if re.match(r" {0,3}#{1,6}(\s|$)", line):
            found["headings"].append(line)
        found["html"] += re.findall(r"<[A-Za-z/!?][^>]*>?", line)
        found["mentions"] += len(re.findall(r"(?<![\w`\\])@everyone", line))
        found["rows"] += line.startswith("|")
    assert fence == "", "a code fence is left open"
    return found


def assert_valid_json_with(text: str, name: str) -> Any:
    assert acting_characters(text) == []
    value = json.loads(text)
    assert any(name in text for text in _strings(value)), name  # exact once parsed
    return value


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


# --- scenarios ----------------------------------------------------------------------------------


def _manifests(tmp: Path, name: str) -> Path:
    target = tmp / "manifests"
    target.mkdir(parents=True)
    docs = [
        {"kind": "Settings", "name": "tutorial"},
        {"kind": "Stream", "name": "cam", "spec": {"name": name, "active": False}},
        {
            "kind": "Broadcast",
            "name": "show",
            "spec": {"name": name, "status": "pending", "streams": ["cam"]},
        },
    ]
    (target / "set.yaml").write_text(yaml.safe_dump_all(docs, allow_unicode=True))
    return target


class World:
    """A fresh simulator and the CLI against it; every run starts with no registered secret."""

    def __init__(self, tmp: Path, monkeypatch: pytest.MonkeyPatch, declared: str) -> None:
        self.sim = Simulator(SimulatorConfig(api_key=KEY))
        self.run_cli = Invoke(self.sim)
        self.path = _manifests(tmp, declared)

    def run(self, *args: Any) -> Run:
        forget_secrets()
        return self.run_cli(*args)

    def stream_id(self, key: str) -> int:
        streams = json.loads(self.sim.handle("GET", "/streaming/streams?page=1", AUTH, b"").body)
        return next(
            s["id"]
            for s in streams
            if f'"key": "{key}"' in (s["client_entity_data"] or "")
            or f'"key":"{key}"' in (s["client_entity_data"] or "")
        )

    def rename_in_account(self, stream_id: int, name: str) -> None:
        body = json.dumps({"name": name}).encode()
        answer = self.sim.handle("PATCH", f"/streaming/streams/{stream_id}", AUTH, body)
        assert answer.status == 200, answer.body


def _world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, declared: str, run: str) -> World:
    return World(tmp_path / run, monkeypatch, declared)


@pytest.mark.parametrize("fmt", ["text", "json", "markdown"])
def test_a_hostile_name_from_the_manifests_prints_inert(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    outputs: dict[str, list[Run]] = {}
    for name in (PLAIN, HOSTILE):
        world = _world(tmp_path, monkeypatch, name, "plain" if name == PLAIN else "hostile")
        runs = [
            world.run("plan", "-o", fmt, world.path),
            world.run("apply", "--yes", "-o", fmt, world.path),
        ]
        runs.append(world.run("status", "-o", "json" if fmt == "json" else "text", world.path))
        assert [r.exit_code for r in runs] == [0, 0, 0], [r.output for r in runs]
        outputs[name] = runs
        world.sim.close()
    _check(fmt, outputs)


@pytest.mark.parametrize("fmt", ["text", "json", "markdown"])
def test_a_hostile_name_from_the_account_prints_inert(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    """Someone with API access renames our stream; a recording then carries the name too."""
    outputs: dict[str, list[Run]] = {}
    for name in (PLAIN, HOSTILE):
        world = _world(
            tmp_path, monkeypatch, "Declared name", "plain" if name == PLAIN else "hostile"
        )
        assert world.run("apply", "--yes", world.path).exit_code == 0
        cam = world.stream_id("cam")
        world.rename_in_account(cam, name)
        world.sim.handle("PATCH", f"/streaming/streams/{cam}", AUTH, b'{"active": true}')
        world.sim.connect(cam)
        assert (
            world.sim.handle("PUT", f"/streaming/streams/{cam}/start_recording", AUTH, b"").status
            < 300
        )
        world.sim.advance(30)
        assert (
            world.sim.handle("PUT", f"/streaming/streams/{cam}/stop_recording", AUTH, b"").status
            < 300
        )
        world.sim.disconnect(cam)
        runs = [
            world.run("plan", "-o", fmt, world.path),
            world.run("apply", "--yes", "-o", fmt, world.path),
        ]
        runs.append(world.run("status", "-o", "json" if fmt == "json" else "text", world.path))
        assert [r.exit_code for r in runs][2] == 0, [r.output for r in runs]
        outputs[name] = runs
        world.sim.close()
    _check(fmt, outputs)


def _check(fmt: str, outputs: dict[str, list[Run]]) -> None:
    plain, hostile = outputs[PLAIN], outputs[HOSTILE]
    for run in hostile:
        assert_inert_text(run.stderr)
    if fmt == "json":
        for run in hostile:
            assert_valid_json_with(run.stdout, HOSTILE)
        return
    for run in hostile:
        assert_inert_text(run.stdout)
    assert any("\\x1b]0;pwned" in r.stdout for r in hostile)  # shown, escaped
    if fmt == "markdown":
        for mine, theirs in zip(plain[:2], hostile[:2], strict=True):
            assert markdown_structure(theirs.stdout) == markdown_structure(mine.stdout), (
                theirs.stdout
            )
            assert theirs.stdout.rstrip().endswith(mine.stdout.rstrip().rsplit("\n", 1)[-1])


# --- export, errors, logs and the lock owner ----------------------------------------------------


def test_export_writes_hostile_account_names_as_inert_yaml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = _world(tmp_path, monkeypatch, "Declared name", "export")
    assert world.run("apply", "--yes", world.path).exit_code == 0
    world.rename_in_account(world.stream_id("cam"), HOSTILE)
    unowned = json.dumps({"name": HOSTILE, "client_entity_data": "not json {"}).encode()
    assert world.sim.handle("POST", "/streaming/streams", AUTH, unowned).status == 200
    run = world.run("export", "--include-unowned", world.path)
    assert run.exit_code == 0, run.output
    assert_inert_text(run.stdout + run.stderr)
    docs = list(yaml.safe_load_all(run.stdout))
    assert any(d.get("spec", {}).get("name") == HOSTILE for d in docs)  # exact once loaded
    skipped = [line for line in run.stdout.split("\n") if line.startswith("# skipped: stream")]
    assert len(skipped) == 1 and "\\x1b]0;pwned" in skipped[0]  # one comment line, escaped


def test_errors_and_logs_print_inert(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A manifest value quoted by a problem, a server error quoting a name, a debug log line."""
    world = _world(tmp_path, monkeypatch, "Declared name", "errors")
    bad = world.path / "bad.yaml"
    bad.write_text(
        'kind: Broadcast\nname: b\nspec:\n  status: "\\e]0;t\\a\\nx: y"\n  streams: [cam]\n'
    )
    invalid = world.run("validate", world.path)
    assert invalid.exit_code == 1
    assert_inert_text(invalid.stderr)
    assert len(invalid.stderr.rstrip("\n").split("\n")) == 2  # one problem line + the count
    bad.unlink()

    import httpx

    class Hostile(httpx.BaseTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            return httpx.Response(500, json={"status": 500, "error": HOSTILE})

    world.run_cli.transport = Hostile()
    failed = world.run_cli("plan", world.path, env={"RECONCILER_LOG": "debug"})
    assert failed.exit_code == 1 and failed.stderr.count("\n") >= 2
    assert_inert_text(failed.stdout + failed.stderr)
    assert "\\x1b]0;pwned" in failed.stderr


def test_unlock_prints_a_hostile_lock_owner_inert(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from reconciler.api.client import ClientSettings, StreamingClient
    from reconciler.lock.lease import acquire_lock

    world = _world(tmp_path, monkeypatch, "Declared name", "unlock")
    client = StreamingClient(
        "http://simulator.invalid",
        KEY,
        transport=world.sim.transport(),
        settings=ClientSettings(rate_limit=None, backoff_base=0.0),
    )
    acquire_lock(client, "tutorial", owner=HOSTILE[:200])
    client.close()
    held = world.run("apply", "--yes", world.path)
    removed = world.run("unlock", "--yes", world.path)
    assert held.exit_code == 1 and removed.exit_code == 0, removed.output
    assert "held by" in removed.stdout
    assert_inert_text(held.output + removed.output)
