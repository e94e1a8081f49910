"""The planner (pure): desired state + live state -> `Plan`. See docs/planning.md."""

from reconciler.plan.compute import PlanOptions, compute_plan

__all__ = ["PlanOptions", "compute_plan"]
