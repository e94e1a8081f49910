"""benchmarks/bench_issue12.py runs end to end in its quick mode (as a user runs it, a process)
and prints every figure of issue 12's "Done when" next to its target. The shape is checked, never
the figures: they are measurements, and whether they pass is the script's verdict, not a test's."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

EXPECTED = [
    "first-apply writes per created pair",
    "empty-body create requests per create",
    "CPU of 1000 live broadcast deletes beyond the requests",
    "1% apply of 1000 + 1000: requests / lower bound",
    "`reconciler plan` process CPU at 1000",
    "`reconciler plan` peak RSS at 1000",
]
# A verdict, the figure's name, its value (a number, or "unmeasured" without /usr/bin/time),
# its target.
LINE = re.compile(r"^(PASS|FAIL)  (.+?)  +(\S.*?)  \[target (.+)\]$")


def test_the_quick_run_prints_each_figure_with_a_number_and_its_target() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    done = subprocess.run(
        [sys.executable, "benchmarks/bench_issue12.py", "--quick", "--no-huge", "--latency", "0"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert done.returncode in (0, 1), done.stdout + done.stderr  # 1: some target not met
    assert "Traceback" not in done.stderr, done.stderr
    verdicts = [
        LINE.match(line) for line in done.stdout.splitlines() if line[:4] in ("PASS", "FAIL")
    ]
    assert all(verdicts), done.stdout
    names = [m.group(2).strip() for m in verdicts if m]
    assert names == EXPECTED, done.stdout
    assert done.returncode == (1 if any(m.group(1) == "FAIL" for m in verdicts if m) else 0)
