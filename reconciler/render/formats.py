"""Prints a `Plan` or a `Report` as text (like a good Terraform plan), JSON (a documented, stable
shape: docs/cli.md) or markdown (a pull-request comment). Every line and value passes through
`render.inert` (secrets redacted, nothing that acts on a terminal or escapes markdown).

Knows nothing of the API, the manifests or the command line.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import Any

from reconciler.model.changes import Change, ChangeResult, Outcome, Plan, Report
from reconciler.redact import redact_value
from reconciler.render.inert import json_text, terminal_line
from reconciler.render.lines import (
    COLOR,
    detail_lines,
    headline,
    masked,
    plan_summary,
    plan_summary_line,
    report_summary,
    report_summary_line,
    result_line,
)
from reconciler.render.markdown import plan_markdown, report_markdown

JSON_VERSION = 1

Style = Callable[..., str]


class Format(StrEnum):
    TEXT = "text"
    JSON = "json"
    MARKDOWN = "markdown"


def _plain(text: str, **_style: Any) -> str:
    return text


def _inert(style: Style) -> Style:
    """`style` applied to the inert form of a line (colour codes are added after escaping)."""

    def styled(text: str, **kw: Any) -> str:
        return style(terminal_line(text), **kw)

    return styled


# The codes click.style prints, for the few styles a plan uses: render does not import click.
_ANSI_FG = {"red": 31, "green": 32, "yellow": 33, "magenta": 35, "cyan": 36}


def _ansi(text: str, *, fg: str | None = None, bold: bool = False) -> str:
    start = (f"\x1b[{_ANSI_FG[fg]}m" if fg else "") + ("\x1b[1m" if bold else "")
    return f"{start}{text}\x1b[0m"


# --- plan ---------------------------------------------------------------------------------------


def render_plan(plan: Plan, fmt: str = Format.TEXT, *, color: bool = False) -> str:
    fmt = Format(fmt)
    if fmt is Format.JSON:
        return json_text(plan_json(plan))
    if fmt is Format.MARKDOWN:
        return plan_markdown(plan)
    return _plan_text(plan, _inert(_ansi if color else _plain))


def _plan_text(plan: Plan, style: Style) -> str:
    """Each line is one `style` call: a value's line break or escape cannot start another."""
    out: list[str] = []
    for change in plan.changes:
        if change.held is not None:
            continue
        head = headline(change)
        out.append(style(head, fg=COLOR.get(head[0])))
        out += [style(f"      {line}") for line in detail_lines(change)]
    held = plan.held
    if held:
        if out:
            out.append("")
        for change in held:
            line = f"! held: {headline(change, verb=True)} ({change.held})"
            out.append(style(line, fg=COLOR["!"]))
    if (plan.warnings or plan.notes) and out:
        out.append("")
    out += [style(f"Warning: {w}", fg="yellow", bold=True) for w in plan.warnings]
    out += [style(f"Note: {n}") for n in plan.notes]
    if out:
        out.append("")
    out.append(style(plan_summary_line(plan), bold=True))
    return "\n".join(out) + "\n"


def change_json(change: Change) -> dict[str, Any]:
    return {
        "resource": change.resource.value,
        "key": change.key,
        "action": change.action.value,
        "id": change.target_id,
        "title": change.title,
        "stage": change.stage.name.lower(),
        "diffs": [
            {"op": d.op, "path": d.path, "before": d.before, "after": d.after}
            for d in map(masked, change.diffs)
        ],
        "body": dict(change.body),
        "streams": list(change.stream_refs),
        "depends_on": list(change.depends_on),
        "reason": change.reason,
        "held": change.held,
    }


def plan_json(plan: Plan) -> dict[str, Any]:
    value = {
        "version": JSON_VERSION,
        "changes": [change_json(c) for c in plan.changes],
        "warnings": list(plan.warnings),
        "notes": list(plan.notes),
        "summary": {**plan_summary(plan), "pending": len(plan.pending)},
    }
    result: dict[str, Any] = redact_value(value)
    return result


# --- report -------------------------------------------------------------------------------------

OUTCOME_COLOR = {
    Outcome.DONE: "green",
    Outcome.FAILED: "red",
    Outcome.SKIPPED: "yellow",
    Outcome.HELD: "magenta",
}


def render_report(report: Report, fmt: str = Format.TEXT, *, color: bool = False) -> str:
    fmt = Format(fmt)
    if fmt is Format.JSON:
        return json_text(report_json(report))
    if fmt is Format.MARKDOWN:
        return report_markdown(report)
    style = _inert(_ansi if color else _plain)
    lines = [style(result_line(r), fg=OUTCOME_COLOR[r.outcome]) for r in report.results]
    if lines:
        lines.append("")
    lines.append(style(report_summary_line(report), bold=True))
    return "\n".join(lines) + "\n"


def result_json(result: ChangeResult) -> dict[str, Any]:
    change = result.change
    return {
        "resource": change.resource.value,
        "key": change.key,
        "action": change.action.value,
        "id": result.object_id if result.object_id is not None else change.target_id,
        "title": change.title,
        "outcome": result.outcome.value,
        "detail": result.detail,
    }


def report_json(report: Report) -> dict[str, Any]:
    value: Mapping[str, Any] = {
        "version": JSON_VERSION,
        "results": [result_json(r) for r in report.results],
        "summary": report_summary(report),
        "exit_code": report.exit_code,
        **({"lock_removed": True} if report.lock_removed else {}),
    }
    result: dict[str, Any] = redact_value(value)
    return result
