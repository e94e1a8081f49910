"""Under 5xx, 429s, latency and creates whose response is lost, `reconciler apply` (the real entry
point, over a real port) converges within 3 runs, duplicates nothing, leaves other people's
objects alone, and every run tells the truth about what failed.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from chaos_support import Account, N, cli_env
from click.testing import CliRunner, Result

from reconciler.cli.commands import main
from reconciler.simulator import Faults

pytestmark = [pytest.mark.chaos, pytest.mark.port]

FAULTS = Faults(latency_ms=1, error_rate=0.2, rate_limit_rps=150, drop_create_rate=0.2, seed=20)


def invoke(args: list[str], env: dict[str, str]) -> Result:
    return CliRunner().invoke(main, args, env=env, catch_exceptions=False)


def failed_honestly(output: str) -> bool:
    """Exit 1 must come with the reason: FAILED lines and a summary counting them, or an error."""
    summary = re.search(r"Apply: \d+ done, (\d+) failed", output)
    if summary is not None:
        return int(summary.group(1)) > 0 and "FAILED" in output
    return "error" in output.lower()


def expected_keys(prefix: str) -> Counter[str]:
    return Counter({f"{prefix}-{i:03d}": 1 for i in range(N)})


def test_apply_under_faults_converges_within_three_runs(
    sim: Any,
    sim_server: Any,
    manifests: Path,
    account: Account,
    unowned: dict[str, list[int]],
    fast_backoff: None,
) -> None:
    before = account.snapshot(unowned)
    sim.set_faults(FAULTS)
    env = cli_env(sim_server.url)
    codes = []
    for _ in range(3):
        result = invoke(["apply", str(manifests), "--yes"], env)
        codes.append(result.exit_code)
        assert "Traceback" not in result.output
        if result.exit_code == 0:
            break
        assert result.exit_code == 1, result.output
        assert failed_honestly(result.output), result.output
        # A failed run leaves no duplicate behind either (the next run must not have to clean up).
        assert account.census().duplicates() == []
    assert codes[-1] == 0, f"no convergence in 3 runs: exit codes {codes}"

    # Still under faults: a read-only check finds nothing to do. One read of ~10 pages with 5
    # attempts each fails outright about once in 300 runs at 20% 5xx (an honest exit 1); the check
    # runs with more retries, as a job on a network this bad would.
    patient = {**env, "RECONCILER_RETRIES": "10"}
    plan = invoke(["plan", str(manifests), "--detailed-exitcode"], patient)
    assert plan.exit_code == 0, plan.output

    census = account.census()
    assert census.stream_keys == expected_keys("cam")
    assert census.broadcast_names == expected_keys("show")
    assert census.recorded == expected_keys("show")  # each broadcast recorded on one stream
    assert census.lock_streams == 0 and census.trails == 1  # released: the trail stays
    assert len(account.objects("streams")) == N + len(unowned["streams"]) + census.trails
    assert len(account.objects("broadcasts")) == N + len(unowned["broadcasts"])
    assert account.snapshot(unowned) == before


def test_every_run_tells_the_truth(
    sim: Any, sim_server: Any, manifests: Path, account: Account, fast_backoff: None
) -> None:
    """Many lost create answers make changes fail; after every run a fault-free plan agrees with
    the exit code: 0 means nothing is left to do, 1 comes with the failures named."""
    sim.set_faults(Faults(error_rate=0.3, drop_create_rate=0.4, seed=3))
    env = cli_env(sim_server.url)
    codes = []
    for _ in range(8):
        result = invoke(["apply", str(manifests), "--yes"], env)
        codes.append(result.exit_code)
        assert "Traceback" not in result.output
        assert result.exit_code in (0, 1), result.output
        if result.exit_code == 1:
            assert failed_honestly(result.output), result.output
        assert account.census().duplicates() == []
        with account.calm():
            plan = invoke(["plan", str(manifests), "--detailed-exitcode"], env)
        if result.exit_code == 0:
            assert plan.exit_code == 0, plan.output
            break
        assert plan.exit_code in (0, 2), plan.output
    assert 1 in codes  # the faults did bite: failures were seen and reported
    assert codes[-1] == 0, f"no convergence in 8 runs: exit codes {codes}"
