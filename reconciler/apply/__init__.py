"""Executing a plan: stages in lifecycle order, the markers that record our broadcasts, and no
duplicate creates."""

from reconciler.apply.scheduler import apply_plan

__all__ = ["apply_plan"]
