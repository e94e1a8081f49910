"""Manifest files and directories -> `DesiredState`, or one `ManifestError` listing every problem.

Reads files, parses YAML, substitutes `${VAR}`, validates each document against its kind's
model; cross-document rules and the mapping to `DesiredState` are in `build.py`.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from pydantic import ValidationError

from reconciler.errors import ManifestError, Problem
from reconciler.manifest.build import Validated, build_state
from reconciler.manifest.envsubst import substitute
from reconciler.manifest.messages import describe, did_you_mean
from reconciler.manifest.models import DOCUMENT_MODELS, KEY_RE
from reconciler.manifest.yamlload import Document, format_loc, line_of, parse_documents
from reconciler.model.desired import DesiredState
from reconciler.redact import register_secrets

SUFFIXES = (".yaml", ".yml")


def load_manifests(
    paths: Sequence[str | Path],
    *,
    set_name: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> DesiredState:
    """Load every manifest under `paths`; raise `ManifestError` with every problem found."""
    # The node trees are many small acyclic objects kept alive to the end: the cyclic garbage
    # collector would rescan them again and again (about 3x the CPU for 20,000 documents).
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _load(paths, set_name, os.environ if environ is None else environ)
    finally:
        if was_enabled:
            gc.enable()


def _load(
    paths: Sequence[str | Path], set_name: str | None, env: Mapping[str, str]
) -> DesiredState:
    if not paths:
        raise ManifestError([Problem("<no paths>", 0, "", "no manifest paths given")])
    problems: list[Problem] = []
    validated: list[Validated] = []
    files = manifest_files(paths, problems)
    if not files:
        # A wrong directory must not read as an empty set (which would plan to prune it all).
        problems = problems or [Problem(str(paths[0]), 0, "", "no *.yaml or *.yml files found")]
        raise ManifestError(problems)
    for file in files:
        try:
            text = file.read_bytes().decode("utf-8")
        except UnicodeDecodeError as exc:
            problems.append(Problem(str(file), 0, "", f"not UTF-8 text ({exc.reason}); re-save it"))
            continue
        except OSError as exc:
            problems.append(Problem(str(file), 0, "", f"cannot read: {exc.strerror}"))
            continue
        docs, found = parse_documents(text, str(file))
        problems.extend(found)
        for doc in docs:
            checked = validate_document(doc, env, problems)
            if checked is not None:
                validated.append(checked)
    state = build_state(validated, set_name=set_name, first_path=str(paths[0]), problems=problems)
    if problems or state is None:
        raise ManifestError(problems)
    # A declared passphrase is a secret even when written literally (not as ${VAR}): a server
    # error echoing it must not print it (invariant 10).
    register_secrets(s.fields.get("srt_passphrase") for s in state.streams.values())
    return state


def manifest_files(paths: Sequence[str | Path], problems: list[Problem]) -> list[Path]:
    """Files as given, and *.yaml/*.yml under directories (recursive, sorted, hidden skipped)."""
    files: list[Path] = []
    seen: set[Path] = set()
    for given in paths:
        path = Path(given)
        if path.is_dir():
            try:
                found = sorted(
                    p
                    for p in path.rglob("*")
                    if p.suffix in SUFFIXES
                    and p.is_file()
                    and not any(part.startswith(".") for part in p.relative_to(path).parts)
                )
            except OSError as exc:
                problems.append(Problem(str(given), 0, "", f"cannot read: {exc.strerror or exc}"))
                continue
        elif path.is_file():
            found = [path]
        else:
            problems.append(Problem(str(given), 0, "", "no such file or directory"))
            continue
        for file in found:
            resolved = file.resolve()
            if resolved not in seen:  # `manifests/ manifests/a.yaml` reads a.yaml once
                seen.add(resolved)
                files.append(file)
    return files


def validate_document(
    doc: Document, environ: Mapping[str, str], problems: list[Problem]
) -> Validated | None:
    """The document's model, or None after appending its problems."""

    def report(loc: tuple[str | int, ...], message: str) -> None:
        problems.append(Problem(doc.path, line_of(doc, loc), format_loc(loc), message))

    value = doc.value
    if not isinstance(value, dict):
        report((), "a document must be a mapping with `kind`, `name` and `spec`")
        return None
    kinds = ", ".join(DOCUMENT_MODELS)
    kind = value.get("kind")
    if kind is None:
        report(("kind",) if "kind" in value else (), f"add `kind:` (one of {kinds})")
        return None
    model = DOCUMENT_MODELS.get(kind) if isinstance(kind, str) else None
    if model is None:
        hint = did_you_mean(kind, DOCUMENT_MODELS) if isinstance(kind, str) else ""
        shown = f"'{kind}'" if isinstance(kind, str) else "this value"
        report(("kind",), f"unknown kind {shown}; {hint or f'use one of {kinds}'}")
        return None
    name = value.get("name")
    key = name if isinstance(name, str) and KEY_RE.match(name) else None
    env_errors: list[tuple[tuple[str | int, ...], str]] = []
    if doc.has_dollar:
        value = substitute(value, environ, env_errors)
    for loc, message in env_errors:
        report(loc, message)
    try:
        parsed = model.model_validate(value)
    except ValidationError as exc:
        # One problem per field: a missing variable or a bad YAML value was reported already.
        reported = {loc for loc, _ in env_errors} | doc.reported
        for loc, message in describe(model, exc):
            if loc not in reported:
                report(loc, message)
        return Validated(doc, kind, key)
    if env_errors or doc.reported:
        return Validated(doc, kind, key)
    return Validated(doc, kind, key, parsed)
