"""A run that waited for the lock and finds the other run did its work: it says the account
changed since the plan it showed (docs/cli.md, apply step 5), in text and in JSON, instead of a
silent "0 done" under a plan of creates. Real processes against `reconciler simulator serve`."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from lock_support import stream_creates, write_streams
from test_lock_signals import lock_streams, requests_log, run_apply, served, wait_for_creates

__all__ = ["served"]  # the fixture, used by name
N = 20  # creates, two at a time at 300 ms: the first run holds the lock ~3 s


def test_a_waiting_apply_that_finds_the_work_done_says_the_account_changed(
    served: httpx.Client, tmp_path: Path
) -> None:
    http = served
    path = write_streams(tmp_path, N)
    http.put("/_simulator/faults", json={"latency_ms": 300})
    first = run_apply(http, path)
    wait_for_creates(http, first, 1)
    second = run_apply(http, path, "--lock-wait", "60", "--log-format", "json")
    text = run_apply(http, path, "--lock-wait", "60")
    _, first_err = first.communicate(timeout=60)
    assert first.returncode == 0, first_err
    out, err = second.communicate(timeout=60)
    assert second.returncode == 0, err
    assert " to create" in out and "Plan: 0 to create" not in out  # shown before the lock
    events = [json.loads(line) for line in err.splitlines()]
    assert [e["event"] for e in events if e.get("event") == "replan"] == ["replan"]
    assert events[-1]["event"] == "summary" and events[-1]["exit_code"] == 0
    out, err = text.communicate(timeout=60)
    assert text.returncode == 0, err
    assert "The account changed since the plan above was computed" in out
    assert "This is the plan now:\n\nNo changes. The account matches the manifests.\n" in out
    assert sorted(stream_creates(requests_log(http))) == [f"cam-{i:02d}" for i in range(N)]
    assert lock_streams(http) == []
