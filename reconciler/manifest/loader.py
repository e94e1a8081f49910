"""Manifest files and directories -> `DesiredState`, or one `ManifestError` listing every problem.

Reads files, parses YAML, substitutes `${VAR}`, validates each document against its kind's
model and reduces it to its final value before the next file is read (a file's parsed
documents and models go with it); cross-document rules and the mapping to `DesiredState` are in
`build.py`.
"""

from __future__ import annotations

import copy
import gc
import os
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from reconciler.errors import ManifestError, Problem
from reconciler.manifest.build import Declared, Validated, build_state, declare
from reconciler.manifest.envsubst import Loc, substitute
from reconciler.manifest.messages import describe, did_you_mean
from reconciler.manifest.models import DOCUMENT_MODELS, KEY_RE, DocumentModel
from reconciler.manifest.yamlload import (
    Document,
    decode_utf8,
    format_loc,
    line_of,
    lines_in,
    parse_documents,
)
from reconciler.model.desired import DesiredState
from reconciler.redact import register_secrets

SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class Checked:
    """What the offline check found: the state (with unset `${VAR}` left as written) and the
    warnings, one per unset variable, that `plan`/`apply`/`export` would refuse."""

    state: DesiredState
    warnings: tuple[Problem, ...] = ()
    # Documents per kind: the state leaves out one whose unset value it needs (a stream key)
    declared: Mapping[str, int] = field(default_factory=dict)


def load_manifests(
    paths: Sequence[str | Path],
    *,
    set_name: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> DesiredState:
    """Load every manifest under `paths`; raise `ManifestError` with every problem found
    (an unset `${VAR}` is one: plan, apply and export need the values)."""
    return _collected(paths, set_name, environ, offline=False).state


def check_manifests(
    paths: Sequence[str | Path],
    *,
    set_name: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Checked:
    """`reconciler validate`: everything but the values of unset `${VAR}` (each a warning; a
    check that needs the value is skipped). Raises `ManifestError` with the problems and the
    warnings when anything else is wrong."""
    return _collected(paths, set_name, environ, offline=True)


def _collected(
    paths: Sequence[str | Path],
    set_name: str | None,
    environ: Mapping[str, str] | None,
    *,
    offline: bool,
) -> Checked:
    # The final values are many small acyclic objects kept alive to the end: the cyclic garbage
    # collector would rescan them again and again (about 3x the CPU for 20,000 documents).
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        env = os.environ if environ is None else environ
        return _load(paths, set_name, env, offline)
    finally:
        if was_enabled:
            gc.enable()


def _load(
    paths: Sequence[str | Path], set_name: str | None, env: Mapping[str, str], offline: bool
) -> Checked:
    if not paths:
        raise ManifestError([Problem("<no paths>", 0, "", "no manifest paths given")])
    problems: list[Problem] = []
    warnings: list[Problem] | None = [] if offline else None
    declared: list[Declared] = []
    files = manifest_files(paths, problems)
    if not files:
        # A wrong directory must not read as an empty set (which would plan to prune it all).
        problems = problems or [Problem(str(paths[0]), 0, "", "no *.yaml or *.yml files found")]
        raise ManifestError(problems)
    # The text of each file read: a cross-document problem found at the end parses its file
    # again for the line of its field (its nodes were not kept).
    texts: dict[str, str] = {}
    complete = True  # every document of every file was read (else some may be missing)
    for file in files:
        text = _read(file, problems)
        if text is None:
            complete = False
            continue
        texts[str(file)] = text
        complete = _declare_file(text, str(file), env, declared, problems, warnings) and complete
    state = build_state(
        declared,
        set_name=set_name,
        first_path=str(paths[0]),
        problems=problems,
        lines=lambda path, wanted: lines_in(texts[path], path, wanted),
        complete=complete,
    )
    if problems or state is None:
        raise ManifestError(problems, warnings=warnings or ())
    # A declared passphrase is a secret even when written literally (not as ${VAR}): a server
    # error echoing it must not print it (invariant 10).
    register_secrets(s.fields.get("srt_passphrase") for s in state.streams.values())
    kinds = Counter(item.kind for item in declared)
    return Checked(state, tuple(warnings or ()), dict(kinds))


def _read(file: Path, problems: list[Problem]) -> str | None:
    try:
        return decode_utf8(file.read_bytes(), str(file), problems)
    except OSError as exc:
        problems.append(Problem(str(file), 0, "", f"cannot read: {exc.strerror}"))
        return None


def _declare_file(
    text: str,
    path: str,
    env: Mapping[str, str],
    declared: list[Declared],
    problems: list[Problem],
    warnings: list[Problem] | None,
) -> bool:
    """Append the final value of each document of one file; whether every document was read.
    Its parsed documents and models go with this call: the load holds one file's at a time."""
    docs, found, read_all = parse_documents(text, path)
    problems.extend(found)
    for doc in docs:
        checked = validate_document(doc, env, problems, warnings)
        if checked is not None:
            declared.append(declare(checked))
    return read_all


def manifest_files(paths: Sequence[str | Path], problems: list[Problem]) -> list[Path]:
    """Files as given, and *.yaml/*.yml under directories (recursive, sorted, hidden skipped).
    A manifest that is a dangling symlink is a problem, never skipped: its documents would
    silently drop out of the set (and be pruned)."""
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
                    and (p.is_file() or _dangling(p))
                    and not any(part.startswith(".") for part in p.relative_to(path).parts)
                )
            except OSError as exc:
                problems.append(Problem(str(given), 0, "", f"cannot read: {exc.strerror or exc}"))
                continue
        elif path.is_file() or _dangling(path):
            found = [path]
        else:
            problems.append(Problem(str(given), 0, "", "no such file or directory"))
            continue
        for file in found:
            if _dangling(file):
                problems.append(Problem(str(file), 0, "", _dangling_message(file)))
                continue
            resolved = file.resolve()
            if resolved not in seen:  # `manifests/ manifests/a.yaml` reads a.yaml once
                seen.add(resolved)
                files.append(file)
    return files


def _dangling(path: Path) -> bool:
    return path.is_symlink() and not path.exists()


def _dangling_message(path: Path) -> str:
    try:
        target = f" to '{os.readlink(path)}'"
    except OSError:
        target = ""
    return f"a symlink{target} whose target does not exist (or loops); fix the link or remove it"


def validate_document(
    doc: Document,
    environ: Mapping[str, str],
    problems: list[Problem],
    warnings: list[Problem] | None = None,
) -> Validated | None:
    """The document's model, or None after appending its problems.

    With `warnings` (the offline check), an unset `${VAR}` is a warning there, and a check of
    that value is skipped (a pattern, a length); its type is still checked (`${VAR}` is always
    a string).
    """

    def report(loc: Loc, message: str, into: list[Problem] = problems) -> None:
        into.append(Problem(doc.path, line_of(doc, loc), format_loc(loc), message))

    value = doc.value
    found_kind = _kind_of(value, report)
    if found_kind is None:
        return None
    kind, model = found_kind
    if doc.has_dollar or doc.reported:
        return _validate_slowly(doc, kind, model, environ, report, warnings)
    try:
        parsed = model.__pydantic_validator__.validate_python(value)  # model_validate's call
    except ValidationError as exc:
        for loc, message in describe(model, exc):
            report(loc, message)
        return Validated(doc, kind, _key_of(value))
    return Validated(doc, kind, parsed.name, parsed)


def _key_of(value: dict[str, Any]) -> str | None:
    """The document's key if it is a valid one, for a document that failed validation."""
    name = value.get("name")
    return name if isinstance(name, str) and KEY_RE.match(name) else None


def _validate_slowly(
    doc: Document,
    kind: str,
    model: type[DocumentModel],
    environ: Mapping[str, str],
    report: Callable[..., None],
    warnings: list[Problem] | None,
) -> Validated:
    """`validate_document` of a document with `${VAR}` or a problem YAML reported already."""
    value = doc.value
    key = _key_of(value)
    env_errors: list[tuple[Loc, str]] = []
    unset: list[tuple[Loc, str]] = []
    if doc.has_dollar:
        value = substitute(value, environ, env_errors, unset if warnings is not None else None)
    for loc, message in env_errors:
        report(loc, message)
    for loc, variable in unset:
        assert warnings is not None
        report(loc, f"${{{variable}}} is not set (needed by plan/apply)", warnings)
    unset_locs = {loc for loc, _ in unset}
    try:
        parsed = model.model_validate(value)
    except ValidationError as exc:
        # One problem per field: a bad YAML value was reported already, and a missing variable
        # makes a check of its value moot; not a wrong type or an unknown field, which no value
        # of the variable would mend.
        moot = {loc for loc, _ in env_errors} | unset_locs
        found = False
        for err, (loc, message) in zip(exc.errors(), describe(model, exc), strict=True):
            if loc in doc.reported or (loc in moot and not _wrong_whatever_the_value(err["type"])):
                continue
            report(loc, message)
            found = True
        if found or env_errors or doc.reported:
            return Validated(doc, kind, key)
        # Only checks of unset values failed: the rest is valid; a model without them takes
        # part in the cross-document checks.
        return Validated(doc, kind, key, _without(model, value, unset_locs))
    if env_errors or doc.reported:
        return Validated(doc, kind, key)
    return Validated(doc, kind, key, parsed)


def _kind_of(
    value: Any, report: Callable[[Loc, str], None]
) -> tuple[str, type[DocumentModel]] | None:
    """The document's kind and model, or None after reporting why there is none."""
    if not isinstance(value, dict):
        report((), "a document must be a mapping with `kind`, `name` and `spec`")
        return None
    kind = value.get("kind")
    if isinstance(kind, str) and kind in DOCUMENT_MODELS:
        return kind, DOCUMENT_MODELS[kind]
    kinds = ", ".join(DOCUMENT_MODELS)
    if kind is None:
        report(("kind",) if "kind" in value else (), f"add `kind:` (one of {kinds})")
        return None
    hint = did_you_mean(kind, DOCUMENT_MODELS) if isinstance(kind, str) else ""
    shown = f"'{kind}'" if isinstance(kind, str) else "this value"
    report(("kind",), f"unknown kind {shown}; {hint or f'use one of {kinds}'}")
    return None


def _wrong_whatever_the_value(kind: str) -> bool:
    """A wrong type is wrong whatever the variable holds (a `${VAR}` always gives a string), and
    so is a field the format does not know."""
    return (kind.endswith("_type") and kind != "string_type") or kind == "extra_forbidden"


def _without(model: type[DocumentModel], value: Any, locs: set[Loc]) -> DocumentModel | None:
    """The document validated without the values at `locs`, or None if it then fails."""
    pruned = copy.deepcopy(value)
    for loc in locs:
        parent = pruned
        for part in loc[:-1]:
            parent = parent[part]
        if isinstance(parent, dict):  # in a list the item stays: dropping it would shift the rest
            parent.pop(loc[-1], None)
    try:
        return model.model_validate(pruned)
    except ValidationError:
        return None
