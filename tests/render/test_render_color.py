"""Colour on a terminal: the codes `click.style` would print, without render importing click
(only the CLI does, enforced by the import contracts)."""

from __future__ import annotations

import click

from reconciler.model.changes import (
    Action,
    Change,
    ChangeResult,
    Outcome,
    Plan,
    Report,
    Resource,
    Stage,
)
from reconciler.render.formats import render_plan, render_report


def _create(key: str) -> Change:
    return Change(
        Resource.STREAM, key, Action.CREATE, Stage.CREATE_STREAMS, title=key, body={"name": key}
    )


def test_a_coloured_plan_prints_clicks_codes() -> None:
    plan = Plan(changes=(_create("cam"),), warnings=("careful",))
    plain = render_plan(plan, "text", color=False).splitlines()
    coloured = render_plan(plan, "text", color=True).splitlines()
    assert coloured[0] == click.style(plain[0], fg="green")
    warning = next(i for i, line in enumerate(plain) if line.startswith("Warning: "))
    assert coloured[warning] == click.style(plain[warning], fg="yellow", bold=True)
    assert coloured[-1] == click.style(plain[-1], bold=True)


def test_a_coloured_report_prints_clicks_codes() -> None:
    report = Report(
        results=(
            ChangeResult(_create("a"), Outcome.DONE, object_id=1),
            ChangeResult(_create("b"), Outcome.FAILED, detail="422"),
        )
    )
    plain = render_report(report, "text", color=False).splitlines()
    coloured = render_report(report, "text", color=True).splitlines()
    assert coloured[0] == click.style(plain[0], fg="green")
    assert coloured[1] == click.style(plain[1], fg="red")
    assert coloured[-1] == click.style(plain[-1], bold=True)
