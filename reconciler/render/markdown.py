"""Plan and report as GitHub-flavoured markdown, ready to post as a pull-request comment:
a heading, the summary, one table row per change, the field diffs in a collapsible block.

Knows nothing of the API or the command line; the caller redacts the result.
"""

from __future__ import annotations

from reconciler.model.changes import Outcome, Plan, Report
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


def _cell(text: str) -> str:
    """A table cell: pipes escaped, line breaks flattened, empty shown as a dash."""
    text = " ".join(str(text).split()).replace("|", "\\|")
    return text or "-"


def _code(text: str) -> str:
    return "`" + text.replace("`", "'") + "`" if text else "-"


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
                f"{change.action.value.replace('_', ' ')} | {_cell(why)} |"
            )
        out.append("")
    for title, items in (("Warnings", plan.warnings), ("Notes", plan.notes)):
        if items:
            out += [f"**{title}**", ""] + [f"- {_cell(item)}" for item in items] + [""]
    detailed = [c for c in plan.changes if detail_lines(c)]
    if detailed:
        out += ["<details><summary>Details</summary>", "", "```diff"]
        for change in detailed:
            symbol = "!" if change.held is not None else headline(change)[0]
            out.append(f"{symbol} {headline(change)[2:]}")
            out += [f"    {line}" for line in detail_lines(change)]
        out += ["```", "", "</details>", ""]
    return "\n".join(out)


def report_markdown(report: Report) -> str:
    out = [REPORT_HEADING, "", f"**{report_summary_line(report)}**", ""]
    if report.results:
        out += ["| outcome | change | detail |", "|---|---|---|"]
        for result in report.results:
            out.append(
                f"| {OUTCOME_MARK[result.outcome]} | {_cell(describe(result.change))}: "
                f"{result.change.action.value.replace('_', ' ')} | {_cell(result.detail)} |"
            )
        out.append("")
    out.append(f"Exit code: {report.exit_code}")
    return "\n".join(out) + "\n"
