"""The fenced YAML blocks of docs/ci-examples.md, each with the file it says it is (its first line
`# path`), and a project directory holding the GitHub workflows beside this repository's action."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CI_EXAMPLES = REPO / "docs" / "ci-examples.md"
_FENCE = re.compile(r"^```yaml\n(.*?)^```", re.DOTALL | re.MULTILINE)
_NAMED = re.compile(r"#\s*(\S+\.ya?ml)\s*$")


@dataclass(frozen=True)
class Block:
    name: str  # the file the block says it is ("" when its first line names none)
    text: str
    line: int  # where the block starts in the page, for messages


def yaml_blocks(page: Path = CI_EXAMPLES) -> list[Block]:
    source = page.read_text(encoding="utf-8")
    blocks = []
    for match in _FENCE.finditer(source):
        text = match.group(1)
        named = _NAMED.match(text.splitlines()[0])
        line = source.count("\n", 0, match.start()) + 1
        blocks.append(Block(named.group(1) if named else "", text, line))
    return blocks


def workflow_project(root: Path, workflows: dict[str, str]) -> Path:
    """A git repository with `workflows` under .github/workflows and this repository's action
    as `tools/reconciler` (the path the documented workflows use)."""
    (root / ".github" / "workflows").mkdir(parents=True)
    (root / "tools" / "reconciler").mkdir(parents=True)
    shutil.copy(REPO / "action.yml", root / "tools" / "reconciler" / "action.yml")
    for name, text in workflows.items():
        (root / ".github" / "workflows" / Path(name).name).write_text(text, encoding="utf-8")
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    return root


def actionlint(root: Path) -> subprocess.CompletedProcess[str]:
    """actionlint over the project's workflows (shellcheck and pyflakes off: not installed
    everywhere, and the scripts are checked by running them)."""
    executable = Path(sys.executable).parent / "actionlint"  # from the test extra
    assert executable.exists(), "actionlint is not installed: pip install -e '.[test]'"
    return subprocess.run(
        [executable, "-oneline", "-no-color", "-shellcheck=", "-pyflakes="],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
    )
