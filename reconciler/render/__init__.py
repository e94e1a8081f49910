"""Plans and reports as text, JSON and markdown, with secrets redacted."""

from reconciler.render.formats import Format, plan_json, render_plan, render_report, report_json

__all__ = ["Format", "plan_json", "render_plan", "render_report", "report_json"]
