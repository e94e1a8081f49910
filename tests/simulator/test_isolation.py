"""The simulator imports nothing from the rest of `reconciler` (it must not share the client's
models, or it would agree with the client's bugs)."""

from __future__ import annotations

import ast
from pathlib import Path

import reconciler.simulator

PACKAGE = Path(reconciler.simulator.__file__).parent


def test_simulator_imports_only_itself_from_reconciler() -> None:
    offenders = []
    for path in sorted(PACKAGE.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""] if node.level == 0 else []
            for name in names:
                if name.split(".")[0] == "reconciler" and not name.startswith(
                    "reconciler.simulator"
                ):
                    offenders.append(f"{path.name}: {name}")
    assert offenders == []
    assert len(list(PACKAGE.glob("*.py"))) > 5
