"""The planner (pure): desired state + live state -> `Plan`. See docs/planning.md."""

from reconciler.plan.compute import PlanError, PlanOptions, compute_plan

__all__ = ["PlanError", "PlanOptions", "compute_plan"]
