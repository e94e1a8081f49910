"""Cleanup judges idle ages by the platform's clock (the `Date` of its answers), never by this
machine's: `clock/advance` on a served simulator makes a stream stale for `reconciler plan`, and a
runner's clock skewed by days changes nothing. Without a `Date` the local clock decides, with a
warning."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from cli_harness import Invoke

from reconciler import pipeline
from reconciler.api.client import ClientSettings, StreamingClient
from reconciler.simulator import Simulator, SimulatorConfig

KEY = "gc-0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f"
AUTH = {"Authorization": f"APIKey {KEY}"}
DAY = 86400
POLICY = "kind: Settings\nname: clock\n---\nkind: Cleanup\nname: stale\nspec:\n  idle_for: 30d\n"


@pytest.fixture
def served() -> Iterator[str]:
    """`reconciler simulator serve` in its own process on a loopback port (real time clock)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "reconciler", "simulator", "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "GCORE_API_KEY": KEY},
    )
    assert proc.stdout is not None
    first = proc.stdout.readline()
    assert " on http://127.0.0.1:" in first, first
    yield first.split(" on ")[1].split(" ")[0]
    proc.kill()
    proc.communicate()


def reconciler(*args: str, url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GCORE_API_KEY": KEY, "GCORE_BASE_URL": url, "NO_COLOR": "1"}
    env.pop("RECONCILER_LOG", None)
    return subprocess.run(
        [sys.executable, "-m", "reconciler", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


@pytest.mark.port
def test_clock_advance_on_a_served_simulator_makes_a_stream_stale_for_plan(
    served: str, tmp_path: Path
) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    with httpx.Client(base_url=served, timeout=5) as http:
        stream = http.post("/streaming/streams", json={"name": "user-7"}, headers=AUTH).json()
        before = reconciler("plan", "--detailed-exitcode", str(policy), url=served)
        assert (before.returncode, before.stdout.strip()) == (
            0,
            "No changes. The account matches the manifests.",
        ), before

        advanced = http.post("/_simulator/clock/advance", json={"seconds": 40 * DAY})
        assert advanced.status_code == 200
        shown_date = http.get("/streaming/streams", headers=AUTH).headers["date"]

    after = reconciler("plan", "--detailed-exitcode", str(policy), url=served)
    assert after.returncode == 2, after
    assert f"(id {stream['id']}): cleanup" in after.stdout
    assert "Cleanup 'stale': idle 40d (never used, created " in after.stdout
    assert after.stderr == ""
    # The served Date is the simulated time, 40 days ahead of this machine's clock.
    served_time = datetime.strptime(shown_date, "%a, %d %b %Y %H:%M:%S GMT").replace(tzinfo=UTC)
    assert served_time - datetime.now(UTC) > timedelta(days=39)


def _account(start: datetime) -> tuple[Simulator, StreamingClient]:
    sim = Simulator(SimulatorConfig(api_key=KEY, start_time=start))
    api = StreamingClient(
        "http://simulator.invalid",
        KEY,
        transport=sim.transport(),
        settings=ClientSettings(rate_limit=None, backoff_base=0.0),
    )
    return sim, api


@pytest.mark.parametrize("skew_days", [-400, -35, 0, 35, 400])
def test_a_skewed_local_clock_does_not_change_the_selection(tmp_path: Path, skew_days: int) -> None:
    start = datetime(2026, 3, 1, tzinfo=UTC)
    sim, api = _account(start)
    try:
        old = api.create_stream({"name": "old"})
        sim.advance(20 * DAY)
        api.create_stream({"name": "recent"})
        sim.advance(20 * DAY)  # old: idle 40 days, recent: 20 days
        policy = tmp_path / "policy.yaml"
        policy.write_text(POLICY)
        skewed = sim.now() + timedelta(days=skew_days)
        options = pipeline.RunOptions(now=lambda: skewed)

        _, _, plan = pipeline.build_plan([policy], api, options)
    finally:
        api.close()
        sim.close()
    assert [(c.action.value, c.target_id) for c in plan.changes] == [("cleanup", old["id"])]
    assert "idle 40d" in plan.changes[0].reason


def test_without_a_date_header_the_local_clock_decides_with_a_warning(
    invoke: Invoke, breaking: Callable[[Any], None], sim: Any, tmp_path: Path
) -> None:
    def no_date(request: httpx.Request, answer: httpx.Response | None) -> httpx.Response | None:
        if answer is None:
            return None
        headers = {k: v for k, v in answer.headers.items() if k.lower() != "date"}
        return httpx.Response(answer.status_code, headers=headers, content=answer.content)

    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    with httpx.Client(base_url="http://sim", transport=sim.transport()) as http:
        http.post("/streaming/streams", json={"name": "user-7"}, headers=AUTH)
    sim.advance(40 * DAY)  # stale by the platform's clock, which this run cannot see
    breaking(no_date)

    shown = invoke("plan", "--detailed-exitcode", policy)
    assert shown.exit_code == 0, shown.output
    assert shown.stdout.strip() == "No changes. The account matches the manifests."
    assert shown.stderr == (
        "WARNING reconciler.api.platformtime: the API sent no Date header: idle ages and lock "
        "expiries are judged by this machine's clock, which may differ from the platform's\n"
    )
