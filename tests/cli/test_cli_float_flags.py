"""Every number flag that takes a fraction refuses `nan` and `inf` at the flag, with click's
usage error (exit 2) and before any request: click's range check lets NaN through (every
comparison with it is false), and `--max-deletion-percent nan` ended a plan with a deletion in a
traceback (ValueError: cannot convert float NaN to integer)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest

from reconciler.cli import commands as cli


def float_flags(group: click.Group, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """(command words..., --flag) for every option whose value is a float, in every command."""
    ctx = click.Context(group)
    for name in group.list_commands(ctx):  # a lazy group (simulator) loads when asked
        command = group.get_command(ctx, name)
        assert command is not None
        words = (*prefix, name)
        if isinstance(command, click.Group):
            yield from float_flags(command, words)
            continue
        for param in command.params:
            if isinstance(param, click.Option) and isinstance(
                param.type, click.types.FloatParamType
            ):
                yield (*words, max(param.opts, key=len))


FLOAT_FLAGS = sorted(float_flags(cli.main))


def test_the_float_flags_are_found() -> None:
    flags = {words[-1] for words in FLOAT_FLAGS}
    assert {"--max-deletion-percent", "--timeout", "--lock-ttl", "--lock-wait"} <= flags
    assert {"--resync", "--poll", "--latency-ms", "--idle-timeout"} <= flags


@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-inf"])
@pytest.mark.parametrize("words", FLOAT_FLAGS, ids=" ".join)
def test_nan_and_inf_are_refused_at_the_flag(
    invoke: Any, words: tuple[str, ...], value: str
) -> None:
    *command, flag = words
    result = invoke(*command, flag, value)
    assert result.exit_code == 2, result.output
    assert f"Error: Invalid value for '{flag}': '{value}' is not a finite number" in result.stderr


def test_a_plan_with_a_deletion_and_max_deletion_percent_nan_is_refused(
    sim: Any, invoke: Any, manifests: Path
) -> None:
    assert invoke("apply", "--yes", manifests).exit_code == 0
    (manifests / "broadcasts.yaml").write_text(
        (manifests / "broadcasts.yaml").read_text().split("---\n")[0]
    )
    sim.clear_log()
    result = invoke("plan", manifests, "--max-deletion-percent", "nan")
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr.endswith(
        "Error: Invalid value for '--max-deletion-percent': 'nan' is not a finite number "
        "in the range 0<=x<=100.\n"
    )
    assert sim.requests() == []
    fine = invoke("plan", manifests, "--max-deletion-percent", "50")
    assert fine.exit_code == 0 and "1 to delete" in fine.stdout, fine.output


@pytest.mark.parametrize("variable", ["RECONCILER_RATE_LIMIT", "RECONCILER_TIMEOUT"])
@pytest.mark.parametrize("value", ["nan", "inf"])
def test_nan_and_inf_are_refused_in_the_environment(
    sim: Any, invoke: Any, manifests: Path, variable: str, value: str
) -> None:
    result = invoke("plan", manifests, env={variable: value})
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith(f"error: {variable}='{value}': expected a number")
    assert sim.requests() == []


@pytest.mark.parametrize("value", ["nan", "inf"])
def test_the_rate_limit_flag_is_read_as_its_variable_is(
    sim: Any, invoke: Any, manifests: Path, value: str
) -> None:
    result = invoke("plan", manifests, "--rate-limit", value)
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith(f"error: --rate-limit '{value}': expected a number")
    assert sim.requests() == []
