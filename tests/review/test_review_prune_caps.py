"""Prune caps at small numbers, end to end: what gets deleted per run and what the user sees."""

from __future__ import annotations

from typing import Any

from review_support import converged, mutating, owned

SETTINGS = "kind: Settings\nname: prod\n"


def streams(*keys: str, settings: str = "") -> str:
    text = SETTINGS + (f"spec: {{{settings}}}\n" if settings else "")
    return text + "".join(f"---\nkind: Stream\nname: {k}\n" for k in keys)


def deleted(sim: Any) -> list[str]:
    return [m for m in mutating(sim) if m.startswith("DELETE")]


def test_a_quarter_of_three_still_deletes_one_per_run(
    sim: Any, api: Any, cli: Any, write: Any
) -> None:
    path = write(streams("a", "b", "c"))
    assert cli("apply", "--yes", path).exit_code == 0
    ids = {k: s["id"] for k, s in owned(api, "prod").items()}

    path = write(streams("a"))
    shown = cli("plan", "--detailed-exitcode", path)
    assert shown.exit_code == 2, shown.output
    assert (
        "1 stream deletion(s) held by the cap (c): at most 10 per run and 25% of the 3 owned "
        "streams (= 1)" in shown.output
    )
    sim.clear_log()
    run = cli("apply", "--yes", path)
    assert run.exit_code == 3, run.output  # c is held back by the cap: cron alerts
    assert f"DELETE /streaming/streams/{ids['b']}" in deleted(sim)
    assert f"DELETE /streaming/streams/{ids['c']}" not in deleted(sim)
    assert set(owned(api, "prod")) == {"a", "c"}

    run = cli("apply", "--yes", path)
    assert run.exit_code == 0, run.output
    assert set(owned(api, "prod")) == {"a"}
    converged(cli, sim, path)


def test_percent_zero_deletes_nothing_and_says_so(sim: Any, api: Any, cli: Any, write: Any) -> None:
    path = write(streams("a", "b"))
    assert cli("apply", "--yes", path).exit_code == 0
    path = write(streams("a", settings="max_deletion_percent: 0"))
    sim.clear_log()
    run = cli("apply", "--yes", path)
    assert run.exit_code == 3, run.output
    assert deleted(sim) == []
    assert "held by the cap (b)" in run.output
    assert set(owned(api, "prod")) == {"a", "b"}


def test_max_deletions_zero_with_a_flag_override(sim: Any, api: Any, cli: Any, write: Any) -> None:
    path = write(streams("a", "b", "c", "d"))
    assert cli("apply", "--yes", path).exit_code == 0
    path = write(streams("a", settings="max_deletions: 0"))
    sim.clear_log()
    assert cli("apply", "--yes", path).exit_code == 3
    assert deleted(sim) == []
    run = cli("apply", "--yes", "--max-deletions", 2, "--max-deletion-percent", 100, path)
    assert run.exit_code == 3, run.output
    assert set(owned(api, "prod")) == {"a", "d"}  # the first deletions by key go first
    assert "1 stream deletion(s) held by the cap (d)" in run.output


def test_a_run_with_deletions_left_by_the_cap_does_not_claim_convergence(
    sim: Any, api: Any, cli: Any, write: Any
) -> None:
    path = write(streams("a", "b", "c"))
    assert cli("apply", "--yes", path).exit_code == 0
    path = write(streams("a"))
    run = cli("apply", "--yes", path)
    assert run.exit_code == 3, run.output
    assert set(owned(api, "prod")) == {"a", "c"}  # c is still to be deleted
    assert "The account matches the manifests" not in run.output


def test_a_refused_empty_prune_does_not_claim_convergence(
    sim: Any, api: Any, cli: Any, write: Any
) -> None:
    path = write(streams("a", "b"))
    assert cli("apply", "--yes", path).exit_code == 0
    path = write(SETTINGS)
    shown = cli("plan", path)
    assert "prune refused" in shown.output
    assert "The account matches the manifests" not in shown.output
