"""Field comparison for the planner: JSON equality, declared-field projections and `FieldDiff`s
computed with jsonpatch.

Pure; knows nothing of streams, broadcasts, markers or the API.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import jsonpatch
import jsonpointer

from reconciler.model.changes import FieldDiff

_SCALARS = frozenset({str, int, float, bool, type(None)})


def json_equal(a: Any, b: Any) -> bool:
    """Equality as JSON sees it: 1 == 1.0, but True != 1 and "1" != 1; lists and tuples alike."""
    kind = type(a)
    if kind is type(b) and kind in _SCALARS:
        return bool(a == b)  # the same plain type (most comparisons): Python's equality is JSON's
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a is b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, str) or isinstance(b, str):
        return isinstance(a, str) and isinstance(b, str) and a == b
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(json_equal(v, b[k]) for k, v in a.items())
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    if a is None or b is None:
        return a is None and b is None
    return bool(a == b)


def changed_fields(live: Mapping[str, Any], desired: Mapping[str, Any]) -> list[str]:
    """The declared fields whose live value differs.

    Only the keys of `desired` are looked at: a field the manifest leaves out is the server's.
    A field the server does not return reads as null (APIs leave out null fields), so a declared
    null never diffs against it and any other declared value does.
    """
    changed = []
    for name, want in desired.items():
        have = live.get(name)
        kind = type(want)
        if kind is type(have) and kind in _SCALARS:  # `json_equal`'s first case, without a call
            if have != want:
                changed.append(name)
        elif not json_equal(have, want):
            changed.append(name)
    return changed


def pointer(field: str) -> str:
    """The JSON pointer of a top-level field."""
    return "/" + field.replace("~", "~0").replace("/", "~1")


def creation_diffs(fields: Mapping[str, Any]) -> tuple[FieldDiff, ...]:
    """One "add" per declared field, in declaration order: what a create sets."""
    return tuple(FieldDiff("add", pointer(name), None, value) for name, value in fields.items())


def field_diffs(before: Mapping[str, Any], after: Mapping[str, Any]) -> tuple[FieldDiff, ...]:
    """JSON-patch operations turning `before` into `after`, each with the value it replaces.

    jsonpatch may emit "move"/"copy" when a value changes place; they are spelled as the
    remove/add pair a reader expects, so every diff is "add", "replace" or "remove".
    """
    src, dst = _plain(before), _plain(after)
    out: list[FieldDiff] = []
    for op in jsonpatch.make_patch(src, dst).patch:
        kind, path = op["op"], op["path"]
        if kind == "replace":
            out.append(FieldDiff("replace", path, _resolve(src, path), op["value"]))
        elif kind == "add":
            out.append(FieldDiff("add", path, None, op["value"]))
        elif kind == "remove":
            out.append(FieldDiff("remove", path, _resolve(src, path), None))
        elif kind == "move":
            value = _resolve(src, op["from"])
            out.append(FieldDiff("remove", op["from"], value, None))
            out.append(FieldDiff("add", path, None, value))
        elif kind == "copy":
            out.append(FieldDiff("add", path, None, _resolve(src, op["from"])))
    return tuple(out)


def _resolve(doc: Any, path: str) -> Any:
    try:
        return jsonpointer.resolve_pointer(doc, path)
    except (jsonpointer.JsonPointerException, KeyError, IndexError, TypeError):
        return None


def _plain(value: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON-native copy (tuples -> lists, Mappings -> dicts) so jsonpatch compares like JSON."""
    return dict(json.loads(json.dumps(value, default=_default)))


def _default(value: Any) -> Any:
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, Iterable):
        return list(value)
    raise TypeError(f"not JSON: {type(value).__name__}")


def decoded_entity_value(raw: Any) -> Any:
    """A stream's `client_entity_data` as a JSON value, so that formatting never diffs.

    Empty means absent (None); text that is not JSON stays the text it is.
    """
    if raw is None or raw == "":
        return None
    if not isinstance(raw, str):
        return raw
    try:
        return json.loads(raw)
    except ValueError:
        return raw
