"""The layers drawn in docs/architecture.md hold: import-linter's contracts (pyproject.toml,
[tool.importlinter]) run as part of the README's test command, as `lint-imports` does in CI."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from importlinter.cli import lint_imports

REPO = Path(__file__).resolve().parent.parent


def test_every_import_contract_is_kept(capsys: pytest.CaptureFixture[str]) -> None:
    config = REPO / "pyproject.toml"
    contracts = tomllib.loads(config.read_text())["tool"]["importlinter"]["contracts"]
    code = lint_imports(config_filename=str(config), no_cache=True, no_logo=True)
    report = capsys.readouterr().out
    assert code == 0, report
    assert f"Contracts: {len(contracts)} kept, 0 broken" in report, report  # all of them ran
