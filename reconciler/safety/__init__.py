"""The safety rules over a plan (guards: live-safety, prune guards, caps) and the stale-stream
selection of `Cleanup` policies."""

from reconciler.safety.cleanup import collect_cleanup, with_cleanup
from reconciler.safety.guards import GuardOptions, apply_guards

__all__ = ["GuardOptions", "apply_guards", "collect_cleanup", "with_cleanup"]
