"""The published schema: `schema/manifests.schema.json` is what `reconciler schema` prints, every
example manifest names it on its first line for editors, and it accepts the examples and rejects
a typo the way an editor would underline it."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest
import yaml
from click.testing import CliRunner

from reconciler.cli import main

REPO = Path(__file__).resolve().parents[2]
SCHEMA_FILE = REPO / "schema" / "manifests.schema.json"
EXAMPLES = sorted((REPO / "manifests").glob("*.yaml"))
MODELINE = "# yaml-language-server: $schema="


def test_the_committed_schema_is_what_the_cli_prints() -> None:
    printed = CliRunner().invoke(main, ["schema"]).stdout
    assert SCHEMA_FILE.read_text(encoding="utf-8") == printed, (
        "schema/manifests.schema.json is stale: run `reconciler schema > "
        "schema/manifests.schema.json`"
    )


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_each_example_names_the_schema_and_conforms_to_it(example: Path) -> None:
    first = example.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith(MODELINE), f"{example.name}: first line must be the schema modeline"
    target = (example.parent / first.removeprefix(MODELINE)).resolve()
    assert target == SCHEMA_FILE
    validator = jsonschema.Draft202012Validator(yaml.safe_load(SCHEMA_FILE.read_text()))
    documents = [d for d in yaml.safe_load_all(example.read_text(encoding="utf-8")) if d]
    assert documents
    for document in documents:
        validator.validate(document)


def test_the_schema_rejects_a_misspelt_field() -> None:
    validator = jsonschema.Draft202012Validator(yaml.safe_load(SCHEMA_FILE.read_text()))
    bad = {"kind": "Stream", "name": "cam", "spec": {"actve": True}}
    errors = list(validator.iter_errors(bad))
    assert errors and "actve" in str(errors[0].message) + str(
        [str(c.message) for c in errors[0].context]
    )
