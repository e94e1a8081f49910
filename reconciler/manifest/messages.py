"""Pydantic validation errors -> humane `(field path, message)` pairs with "did you mean".

Never echoes the value of a secret field, nor a value that came from `${VAR}` (a `FromEnv`).
Knows the models only through their fields.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
import types
from collections.abc import Iterable, Sequence
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from reconciler.manifest.envsubst import FromEnv
from reconciler.manifest.models import FIELD_HINTS

Loc = tuple[str | int, ...]
SECRET_FIELDS = frozenset({"srt_passphrase"})
KEY_RULE = (
    "use 1-63 lowercase letters, digits, '.', '_' or '-', "
    "starting and ending with a letter or digit"
)

_EXPECTED = {
    "int_type": "an integer",
    "int_from_float": "an integer",
    "bool_type": "true or false",
    "string_type": "a string",
    "float_type": "a number",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "list_type": "a list",
}


def did_you_mean(word: str, choices: Iterable[str], *, exact_only: bool = False) -> str:
    """Return "did you mean 'x'?" or ''; a case-insensitive (and -/_ blind) match wins."""
    options = list(choices)
    folded = word.lower().replace("-", "_")
    for option in options:
        if option.lower().replace("-", "_") == folded:
            return f"did you mean '{option}'?"
    if exact_only:
        return ""
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else ""


def describe(doc_model: type[BaseModel], exc: ValidationError) -> list[tuple[Loc, str]]:
    return [(tuple(err["loc"]), _message(doc_model, err)) for err in exc.errors()]


def _message(doc_model: type[BaseModel], err: ErrorDetails) -> str:
    kind, loc, value = err["type"], tuple(err["loc"]), err.get("input")
    last = loc[-1] if loc else ""
    ctx = err.get("ctx") or {}
    if kind == "extra_forbidden":
        return _unknown_field(doc_model, loc)
    if kind == "missing":
        return _missing(loc)
    if kind in _EXPECTED:
        return _wrong_type(_EXPECTED[kind], value, secret=last in SECRET_FIELDS)
    if kind == "literal_error":
        choices = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
        shown = _shown(value)
        quotable = isinstance(value, str) and not isinstance(value, FromEnv)
        hint = did_you_mean(value, choices) if quotable else ""
        return f"{shown} is not allowed; use one of: {', '.join(choices)}" + (
            f"; {hint}" if hint else ""
        )
    if kind == "string_pattern_mismatch":
        if last == "idle_for":
            return (
                f"{_shown(value)} is not a duration: write a number and a unit (s, m, h, d, w), "
                "for example 30d or 1d12h"
            )
        return f"{_shown(value)} is not a valid key: {KEY_RULE}"
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "too_short" and last == "streams":
        return _missing(loc)
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        return _bound(kind, ctx, value, last)
    if kind == "value_error":
        return str(ctx.get("error", err["msg"]))
    return err["msg"][0].lower() + err["msg"][1:]


def _shown(value: Any) -> str:
    # Short values help ("'Live' is not allowed"); long ones may be pasted secrets. A value from
    # ${VAR} is a secret whatever its length.
    if isinstance(value, FromEnv):
        return "a value from ${VAR}"
    return f"'{value}'" if isinstance(value, str) and len(value) <= 40 else "this value"


def _wrong_type(expected: str, value: Any, *, secret: bool) -> str:
    got = _type_name(value)
    hint = ""
    if isinstance(value, FromEnv):
        hint = " (${VAR} always gives a string)"
    elif isinstance(value, str) and not secret:
        number = expected in ("an integer", "a number") and re.fullmatch(r"-?\d+(\.\d+)?", value)
        boolean = expected == "true or false" and value.lower() in ("true", "false", "yes", "no")
        if number or boolean:
            hint = ": remove the quotes"
        elif "${" in value:
            hint = " (${VAR} always gives a string)"
    elif expected == "a string" and isinstance(value, int | float | bool | dt.date):
        hint = ": put it in quotes"
    return f"expected {expected}, got {got}{hint}"


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, dt.date):
        return "a date"
    return type(value).__name__


def _missing(loc: Loc) -> str:
    last = loc[-1] if loc else ""
    if last == "name" and len(loc) == 1:
        return f"required: add `name: <key>` ({KEY_RULE})"
    if last == "streams":
        return (
            "a broadcast needs at least one stream of this set (its ownership is recorded on "
            "its streams): add `streams: [<stream key>]`"
        )
    if last == "idle_for":
        return "required: a Cleanup without an age bound is refused; add e.g. `idle_for: 30d`"
    return f"required: add `{last}:`"


def _bound(kind: str, ctx: dict[str, Any], value: Any, last: str | int) -> str:
    if last == "dvr_duration":
        return f"must be between 30 and 14400 seconds (got {_got(value)})"
    if last == "max_deletion_percent":
        return f"must be between 0 and 100 (got {_got(value)})"
    words = {
        "greater_than_equal": ("at least", "ge"),
        "greater_than": ("greater than", "gt"),
        "less_than_equal": ("at most", "le"),
        "less_than": ("less than", "lt"),
    }
    word, key = words[kind]
    return f"must be {word} {ctx.get(key)} (got {_got(value)})"


def _got(value: Any) -> str:
    return _shown(value) if isinstance(value, str) else str(value)


def _unknown_field(doc_model: type[BaseModel], loc: Loc) -> str:
    name = str(loc[-1])
    parent = model_at(doc_model, loc[:-1])
    choices = list(parent.model_fields) if parent is not None else []
    hint = (
        FIELD_HINTS.get(name)
        or did_you_mean(name, choices, exact_only=True)
        or _elsewhere(doc_model, loc)
        or did_you_mean(name, choices)
        or _known(parent)
    )
    return f"unknown field; {hint}"


def _elsewhere(doc_model: type[BaseModel], loc: Loc) -> str:
    """'belongs under `spec:`' when the field exists in a sibling block of the document."""
    name = str(loc[-1])
    here = tuple(loc[:-1])
    places: list[tuple[Loc, type[BaseModel]]] = [((), doc_model)]
    for field in doc_model.model_fields:
        sub = model_at(doc_model, (field,))
        if sub is not None:
            places.append(((field,), sub))
    for place, model in places:
        if place != here and name in model.model_fields:
            return f"it belongs under `{place[0]}:`" if place else "it belongs at the top level"
    return ""


def _known(model: type[BaseModel] | None) -> str:
    if model is None:
        return "remove it"
    return "known fields: " + ", ".join(model.model_fields)


def model_at(model: type[BaseModel], loc: Sequence[str | int]) -> type[BaseModel] | None:
    """The model class found by following field names `loc` from `model` (None if not a model)."""
    current: type[BaseModel] | None = model
    for part in loc:
        if current is None or not isinstance(part, str) or part not in current.model_fields:
            return None
        current = _model_in(current.model_fields[part].annotation)
    return current


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = get_origin(annotation)
    if origin is Union or origin is types.UnionType:
        for arg in get_args(annotation):
            found = _model_in(arg)
            if found is not None:
                return found
    return None
