"""CPU cost of rendering a plan in every format with many registered secrets (every line is
redacted and made inert by `render.inert`). Printed, never asserted.

    python benchmarks/bench_render.py [CHANGES]     # default 5,000 creates, 5,000 tokens

Ratios matter, not absolute figures: the machine is shared and noisy.
"""

from __future__ import annotations

import secrets
import sys
import time

from reconciler import redact
from reconciler.model.changes import Action, Change, Plan, Resource, Stage
from reconciler.render.formats import render_plan


def main(count: int) -> None:
    redact.forget_secrets()
    redact.register_secrets(secrets.token_hex(16) for _ in range(count))
    changes = tuple(
        Change(
            Resource.STREAM,
            f"cam-{i:05d}",
            Action.CREATE,
            Stage.CREATE_STREAMS,
            title=f"Camera {i}",
            body={"name": f"Camera {i}", "active": False, "uri": f"rtmp://h/live/k{i}"},
        )
        for i in range(count)
    )
    plan = Plan(changes=changes)
    for fmt in ("text", "json", "markdown"):
        start = time.process_time()
        out = render_plan(plan, fmt)
        spent = time.process_time() - start
        print(f"{fmt:<9} {count} changes: {spent:.2f} s CPU, {len(out):,} characters")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5000)
