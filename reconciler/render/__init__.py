"""Plans and reports as text, JSON and markdown; `inert` makes every printed value safe (secrets
redacted, nothing that acts on a terminal or escapes its markdown cell or fence)."""

from reconciler.render.formats import Format, plan_json, render_plan, render_report, report_json

__all__ = ["Format", "plan_json", "render_plan", "render_report", "report_json"]
