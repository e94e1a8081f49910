"""`${VAR}` in string values from the environment; `$${X}` writes a literal `${X}`.

Runs on parsed values (never on YAML text), so a substituted value can never change the
document's structure. Every value read from the environment is a secret (invariant 10): it is
registered for masking, and a string that holds one is a `FromEnv`, which messages never quote.
Knows nothing of the manifest format. Never reports a variable's value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from reconciler.redact import register_secrets

# `$${...}` (escape), `${NAME}` (reference), or any other `${...}` (an error we explain).
_TOKEN = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$\{([^}]*)\}?")

Loc = tuple[str | int, ...]


class FromEnv(str):
    """A string that holds a value read from the environment. Pydantic keeps the subclass in a
    validation error's input (so messages can tell) and returns a plain `str` once valid."""

    __slots__ = ()


def literal(text: str) -> str:
    """The text that `substitute` reads back as exactly `text`: every `${` is written `$${`.

    A run of `$` before `{` gains one `$`, and only its last two are read as the escape."""
    return text.replace("${", "$${")


def substitute(
    value: Any,
    environ: Mapping[str, str],
    errors: list[tuple[Loc, str]],
    unset: list[tuple[Loc, str]] | None = None,
    loc: Loc = (),
) -> Any:
    """A copy of `value` with every `${VAR}` replaced; problems are appended to `errors`.

    With `unset`, a variable that is not set is appended there as (loc, name) instead of being an
    error, and its `${VAR}` stays as written (the offline check, which needs no secrets).
    """
    if isinstance(value, str):
        return substitute_text(value, environ, errors, unset, loc) if "${" in value else value
    if isinstance(value, dict):
        return {k: substitute(v, environ, errors, unset, (*loc, k)) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, environ, errors, unset, (*loc, i)) for i, v in enumerate(value)]
    return value


def substitute_text(
    text: str,
    environ: Mapping[str, str],
    errors: list[tuple[Loc, str]],
    unset: list[tuple[Loc, str]] | None = None,
    loc: Loc = (),
) -> str:
    values: list[str] = []

    def replace(match: re.Match[str]) -> str:
        whole = match.group(0)
        if whole == "$${":
            return "${"
        name = match.group(1)
        if name is not None:
            if name in environ:
                values.append(environ[name])
                return environ[name]
            if unset is not None:
                unset.append((loc, name))
                return whole
            errors.append(
                (
                    loc,
                    f"environment variable {name} is not set; export it "
                    f"(or write $${{{name}}} for a literal '${{{name}}}')",
                )
            )
            return whole
        inner = match.group(2) or ""
        if ":-" in inner or ":=" in inner or ":?" in inner:
            why = "defaults like ${VAR:-x} are not supported"
        elif not whole.endswith("}"):
            why = "'${' is not closed with '}'"
        elif len(inner) <= 40:
            why = (
                f"'{inner}' is not a variable name (letters, digits, _; not starting with a digit)"
            )
        else:
            why = "not a variable name (letters, digits, _; not starting with a digit)"
        errors.append((loc, f"invalid reference: {why}; write $${{ for a literal '${{'"))
        return whole

    result = _TOKEN.sub(replace, text)
    if not values:
        return result
    register_secrets(values)
    return FromEnv(result)
