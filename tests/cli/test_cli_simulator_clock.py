"""`--simulator=FILE` measures cleanup ages on the simulator's own clock, not the wall clock:
a state file advanced by 40 days makes an old stream stale even though it was created today."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx
from click.testing import CliRunner

from reconciler.cli.account import SIMULATOR_KEY
from reconciler.cli.commands import main
from reconciler.simulator import Simulator, SimulatorConfig

POLICY = """kind: Settings
name: clock
---
kind: Cleanup
name: stale
spec:
  idle_for: 30d
"""


def seed_stream(state: Path, *, advance_days: int) -> int:
    sim = Simulator(
        SimulatorConfig(
            api_key=SIMULATOR_KEY,
            state_path=str(state),
            start_time=datetime(2026, 1, 1, tzinfo=UTC),
        )
    )
    with httpx.Client(base_url="http://sim", transport=sim.transport()) as http:
        created = http.post(
            "/streaming/streams",
            json={"name": "old-user-stream"},
            headers={"Authorization": f"APIKey {SIMULATOR_KEY}"},
        ).json()
    sim.advance(advance_days * 86400)
    sim.close()
    return int(created["id"])


def test_cleanup_ages_streams_on_the_simulator_clock(tmp_path: Path) -> None:
    state = tmp_path / "sim.sqlite"
    manifests = tmp_path / "policy.yaml"
    manifests.write_text(POLICY)
    stale_id = seed_stream(state, advance_days=40)

    shown = CliRunner().invoke(
        main, ["plan", f"--simulator={state}", "--detailed-exitcode", str(manifests)]
    )
    assert shown.exit_code == 2, shown.output
    assert f"#{stale_id}" in shown.output
    assert "idle 40d" in shown.output


def test_a_fresh_stream_on_the_simulator_clock_is_not_stale(tmp_path: Path) -> None:
    state = tmp_path / "sim.sqlite"
    manifests = tmp_path / "policy.yaml"
    manifests.write_text(POLICY)
    seed_stream(state, advance_days=10)

    shown = CliRunner().invoke(
        main, ["plan", f"--simulator={state}", "--detailed-exitcode", str(manifests)]
    )
    assert shown.exit_code == 0, shown.output


def test_an_unreadable_simulator_state_file_is_a_clear_error(tmp_path: Path) -> None:
    state = tmp_path / "not-a-database.sqlite"
    state.write_text("this is not SQLite, just text that happens to be here\n" * 20)
    manifests = tmp_path / "policy.yaml"
    manifests.write_text(POLICY)

    result = CliRunner().invoke(main, ["plan", f"--simulator={state}", str(manifests)])
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: --simulator={state}: cannot open the simulator's")
    assert "Traceback" not in result.output
