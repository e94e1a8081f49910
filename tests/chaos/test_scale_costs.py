"""Costs that grow with the account and that the scale benchmark (benchmarks/bench_scale.py) found:
each one is a request count or a CPU budget a user with thousands of streams notices.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from chaos_support import write_set

from reconciler import redact
from reconciler.pipeline import apply_desired, load_desired, plan_against


@pytest.fixture
def many_tokens() -> Iterator[list[str]]:
    tokens = [secrets.token_hex(16) for _ in range(10_000)]  # the simulator's token shape
    yield tokens
    redact.forget_secrets()


def test_masking_ten_thousand_stream_tokens_stays_cheap(many_tokens: list[str]) -> None:
    """`read_account` registers every stream token; every printed line is then redacted. With
    10,000 streams, registering them and redacting 1,000 plan lines must take well under a
    second of CPU (a token-set lookup does it in ~0.05 s; one regex alternation of 10,000
    branches takes ~1.7 s here, and apply prints a line per change)."""
    start = time.process_time()
    redact.register_secrets(many_tokens)
    line = "~ update stream cam-00001 (id 1000001): dvr_duration: 3600 -> 7200"
    for _ in range(1000):
        assert redact.redact_text(line) == line
    spent = time.process_time() - start
    # Masking must still work: a registered token anywhere in a text is hidden.
    assert many_tokens[4321] not in redact.redact_text(f"key {many_tokens[4321]} leaked")
    assert spent < 0.5, f"{spent:.2f} s of CPU"


def page_one_sweeps(sim: Any, kind: str) -> int:
    return sum(
        1
        for r in sim.requests()
        if r["method"] == "GET"
        and r["path"] == f"/streaming/{kind}"
        and r["query"].get("page") == "1"
    )


def test_apply_reads_each_kind_once_after_the_plan_it_shows(
    sim: Any, api: Any, tmp_path: Path
) -> None:
    """`apply` plans without the lock, then takes the lock and re-reads: after the plan it has
    shown, one more sweep per kind is enough (acquire_lock accepts the plan's listing, and hands
    back the sweep that confirmed the lock, `Lock.streams`, as the fresh read for the re-plan).
    Every extra sweep costs ceil(N/25)+1 requests: ~400 requests per sweep at 10,000 streams."""
    desired = load_desired([write_set(tmp_path / "m", n=30)])
    _live, shown = plan_against(desired, api)
    sim.clear_log()
    run = apply_desired(desired, api, shown)
    assert run.report.exit_code == 0
    assert page_one_sweeps(sim, "broadcasts") == 1  # the re-plan's read
    assert page_one_sweeps(sim, "streams") == 1  # the lock's confirmation = the re-plan's read
