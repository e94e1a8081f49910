"""Every file in manifests/ loads and plays the tutorial; the JSON Schema accepts every example."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest
import yaml

from reconciler.manifest import load_manifests, manifest_json_schema

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "manifests"
EXAMPLE_FILES = sorted(p for p in EXAMPLES.rglob("*") if p.suffix in (".yaml", ".yml"))


def _documents(path: Path) -> list[Any]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]


def test_there_are_examples() -> None:
    assert [p.name for p in EXAMPLE_FILES] == [
        "broadcasts.yaml",
        "cleanup.yaml",
        "settings.yaml",
        "streams.yaml",
    ]


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.name)
def test_every_example_file_loads(path: Path) -> None:
    # Broadcasts refer to the streams of the set: each file is loaded with the stream file.
    load_manifests([path, EXAMPLES / "streams.yaml"], set_name="tutorial", environ={})


def test_the_examples_play_the_tutorial() -> None:
    state = load_manifests([EXAMPLES], environ={})  # no variables needed: the README runs it
    assert state.settings.set_name == "tutorial"
    studio = state.streams["studio-a"]
    assert studio.fields["active"] is True
    assert studio.fields["transcoding_region"] == "ix1"
    assert {key: b.stream_keys for key, b in state.broadcasts.items()} == {
        "launch-show": ("studio-a",),
        "encore-show": ("studio-a",),
    }
    assert state.broadcasts["launch-show"].fields["status"] == "live"
    assert state.broadcasts["encore-show"].fields["status"] == "pending"
    (cleanup,) = state.cleanups
    assert cleanup.idle_for == timedelta(days=30)
    assert cleanup.active_users is not None and cleanup.active_users.file is not None
    assert Path(cleanup.active_users.file) == EXAMPLES.resolve() / "active-users.txt"
    # The cleanup can never select the example's own stream (it is declared, and not user-*).
    assert studio.fields["name"] == "Studio A"


def test_the_examples_hold_no_environment_references() -> None:
    for path in EXAMPLE_FILES:
        assert "${" not in path.read_text(encoding="utf-8"), path


def test_schema_accepts_every_example_document() -> None:
    validator = jsonschema.Draft202012Validator(manifest_json_schema())
    for path in EXAMPLE_FILES:
        for doc in _documents(path):
            errors = [e.message for e in validator.iter_errors(doc)]
            assert errors == [], (path.name, doc.get("name"))


def test_schema_is_valid_and_rejects_what_the_loader_rejects() -> None:
    schema = manifest_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    good = {"kind": "Stream", "name": "studio-a", "spec": {"srt_passphrase": "${SRT}"}}
    assert validator.is_valid(good)
    for bad in (
        {"kind": "Stream", "name": "studio-a", "spec": {"dvr_duratoin": 60}},
        {"kind": "Stream", "name": "studio-a", "spec": {"dvr_duration": "60"}},
        {"kind": "Stream", "name": "studio-a", "spec": {"active": None}},
        {"kind": "Stream", "name": "Studio A"},
        {"kind": "Broadcast", "name": "b", "spec": {"streams": []}},
        {"kind": "Broadcast", "name": "b", "spec": {"streams": ["a"], "status": "Live"}},
        {"kind": "Cleanup", "name": "c", "spec": {"max_deletions": 3}},
        {"kind": "Job", "name": "j"},
    ):
        assert not validator.is_valid(bad), bad


def test_schema_module_prints_the_schema(capsys: pytest.CaptureFixture[str]) -> None:
    from reconciler.manifest.schema import main

    main()
    assert json.loads(capsys.readouterr().out) == manifest_json_schema()
