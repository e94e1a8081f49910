"""Plan and report as GitHub-flavoured markdown, ready to post as a pull-request comment:
a heading, the summary, one table row per change, the field diffs in a collapsible block.

Every value goes through `render.inert`: `markdown_text` in cells and lists, `code_block` for
the details, so a name cannot close the fence, open HTML or write a heading. Knows nothing of the
API or the command line.
"""

from __future__ import annotations

from reconciler.model.changes import Outcome, Plan, Report
from reconciler.render.inert import code_block, markdown_text
from reconciler.render.lines import (
    describe,
    detail_lines,
    headline,
    plan_summary_line,
    report_summary_line,
)

PLAN_HEADING = "### reconciler plan"
REPORT_HEADING = "### reconciler apply"
OUTCOME_MARK = {
    Outcome.DONE: "done",
    Outcome.FAILED: "**failed**",
    Outcome.SKIPPED: "skipped",
    Outcome.HELD: "**held**",
}


def _cell(text: object) -> str:
    """A table cell or list item: inert, and `-` when empty."""
    return markdown_text(str(text))


def _code(text: str) -> str:
    # Only our own one-character symbols (+ ~ - > !) are shown as code.
    return "`" + text + "`" if text else "-"


def plan_markdown(plan: Plan) -> str:
    out = [PLAN_HEADING, "", f"**{plan_summary_line(plan)}**", ""]
    if plan.is_empty and not plan.warnings and not plan.notes:
        return "\n".join(out)
    if plan.changes:
        out += ["| | resource | key | id | action | details |", "|---|---|---|---|---|---|"]
        for change in plan.changes:
            symbol = "!" if change.held is not None else headline(change)[0]
            why = f"held: {change.held}" if change.held is not None else change.reason
            out.append(
                f"| {_code(symbol)} | {change.resource} | {_cell(change.key)} | "
                f"{change.target_id if change.target_id is not None else '-'} | "
                f"{change.action.value.replace('_', ' ')} | {_cell(why or '')} |"
            )
        out.append("")
    for title, items in (("Warnings", plan.warnings), ("Notes", plan.notes)):
        if items:
            out += [f"**{title}**", ""] + [f"- {_cell(item)}" for item in items] + [""]
    detailed = [c for c in plan.changes if detail_lines(c)]
    if detailed:
        lines: list[str] = []
        for change in detailed:
            symbol = "!" if change.held is not None else headline(change)[0]
            lines.append(f"{symbol} {headline(change)[2:]}")
            lines += [f"    {line}" for line in detail_lines(change)]
        out += ["<details><summary>Details</summary>", "", *code_block(lines, "diff")]
        out += ["", "</details>", ""]
    return "\n".join(out)


def report_markdown(report: Report) -> str:
    out = [REPORT_HEADING, "", f"**{report_summary_line(report)}**", ""]
    if report.results:
        out += ["| outcome | change | detail |", "|---|---|---|"]
        for result in report.results:
            out.append(
                f"| {OUTCOME_MARK[result.outcome]} | {_cell(describe(result.change))}: "
                f"{result.change.action.value.replace('_', ' ')} | {_cell(result.detail or '')} |"
            )
        out.append("")
    out.append(f"Exit code: {report.exit_code}")
    return "\n".join(out) + "\n"
