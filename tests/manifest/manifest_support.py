"""Helpers for manifest tests: write files into a temporary directory and load them from there.

The fixtures are re-exported by conftest.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from textwrap import dedent

import pytest

from reconciler.errors import ManifestError
from reconciler.manifest import load_manifests
from reconciler.model.desired import DesiredState

SETTINGS = "kind: Settings\nname: tutorial\n---\n"

Write = Callable[..., Path]
Errors = Callable[..., list[str]]


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Run in an empty directory so problem paths read like a user's (`m.yaml:3: ...`)."""
    monkeypatch.chdir(tmp_path)
    yield tmp_path


@pytest.fixture
def write(workdir: Path) -> Write:
    def write(text: str, name: str = "m.yaml") -> Path:
        path = workdir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(dedent(text), encoding="utf-8")
        return Path(name)

    return write


def load(
    *paths: str | Path, environ: Mapping[str, str] | None = None, set_name: str | None = None
) -> DesiredState:
    return load_manifests(
        list(paths), environ=environ if environ is not None else {}, set_name=set_name
    )


@pytest.fixture
def errors(write: Write) -> Errors:
    """Write one file (with a Settings document first unless told) and return its problems."""

    def errors(
        text: str,
        *,
        settings: bool = True,
        environ: Mapping[str, str] | None = None,
        set_name: str | None = None,
    ) -> list[str]:
        path = write((SETTINGS if settings else "") + dedent(text))
        with pytest.raises(ManifestError) as caught:
            load(path, environ=environ, set_name=set_name)
        return [str(p) for p in caught.value.problems]

    return errors
