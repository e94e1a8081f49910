"""Every example file in manifests/ is validated and planned through the real command line on an
empty simulated account (broadcasts are planned with the streams they use)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "manifests"

# file -> the plan's summary on an empty account
EXPECTED = {
    "settings.yaml": "No changes. The account matches the manifests.",
    "streams.yaml": "Plan: 1 to create, 0 to update, 0 to delete, 1 action, 0 held.",
    "broadcasts.yaml": "Plan: 3 to create, 0 to update, 0 to delete, 2 actions, 0 held.",
    "cleanup.yaml": "No changes. The account matches the manifests.",
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_example_file_is_validated_and_planned(sim: Any, invoke: Any, name: str) -> None:
    paths = [EXAMPLES / name]
    if name == "broadcasts.yaml":
        paths.append(EXAMPLES / "streams.yaml")
    args = [*paths, "--set-name", "tutorial"]

    valid = invoke("validate", *args)
    assert valid.exit_code == 0, valid.output
    assert valid.stdout.endswith(": valid\n")

    planned = invoke("plan", *args)
    assert planned.exit_code == 0, planned.output
    assert planned.stdout.rstrip().endswith(EXPECTED[name])
    assert [r["method"] for r in sim.requests()] == ["GET", "GET"]  # read only, never a write


def test_the_example_files_are_the_ones_planned() -> None:
    assert sorted(p.name for p in EXAMPLES.glob("*.yaml")) == sorted(EXPECTED)
