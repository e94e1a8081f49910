"""SIGTERM and SIGHUP (CI timeouts, `docker stop`, a closed terminal) mid-apply stop the run as
Ctrl-C does (issue 9, item 14): no change starts after the signal, the lock is released, exit
128 + the signal number with a message. Before, SIGTERM and SIGHUP killed the process and left
the lock for its TTL, and Ctrl-C went on running every change already queued.

A real `reconciler apply` process against `reconciler simulator serve` on a loopback port."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from lock_support import stream_creates, write_streams

from reconciler.lock.record import lock_record

pytestmark = pytest.mark.port

KEY = "gc-5b1f0c7d9a8e4e3d2c1b0a9f8e7d6c5a"
REPO = Path(__file__).resolve().parents[2]
N = 40
WORKERS = 2


@pytest.fixture
def served() -> Iterator[httpx.Client]:
    """`reconciler simulator serve --port 0` as its own process; a client on its URL."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "reconciler", "simulator", "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "GCORE_API_KEY": KEY},
        cwd=REPO,
    )
    assert proc.stdout is not None
    first = proc.stdout.readline()
    assert " on http://127.0.0.1:" in first, first
    url = first.split(" on ")[1].split(" ")[0]
    with httpx.Client(base_url=url, headers={"Authorization": f"APIKey {KEY}"}) as http:
        yield http
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=10)


def run_apply(http: httpx.Client, path: Path, *extra: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GCORE_", "RECONCILER_"))}
    env.update(GCORE_API_KEY=KEY, GCORE_BASE_URL=str(http.base_url), RECONCILER_RATE_LIMIT="0")
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "reconciler",
            "apply",
            "--yes",
            "--concurrency",
            str(WORKERS),
            *extra,
            str(path),
        ],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def requests_log(http: httpx.Client) -> list[dict[str, Any]]:
    log: list[dict[str, Any]] = http.get("/_simulator/requests").json()
    return log


def wait_for_creates(http: httpx.Client, proc: subprocess.Popen[str], count: int) -> None:
    """Until the running apply has sent `count` stream creates (it must not end first)."""
    deadline = time.monotonic() + 30
    while len(stream_creates(requests_log(http))) < count:
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.01)


def lock_streams(http: httpx.Client) -> list[dict[str, Any]]:
    """Locks no run released (a released one stays as the set's trail)."""
    streams = http.get("/streaming/streams").json()
    return [s for s in streams if (r := lock_record(s)) is not None and not r.released]


@contextmanager
def inherited(sig: signal.Signals, handler: Any) -> Iterator[None]:
    """`sig`'s disposition as the processes started meanwhile inherit it. A suite started under
    `nohup` (or by a CI runner that ignores SIGHUP) would otherwise hand every apply an ignored
    SIGHUP, which apply rightly leaves ignored."""
    previous = signal.signal(sig, handler)
    try:
        yield
    finally:
        signal.signal(sig, previous)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_a_signal_mid_apply_releases_the_lock_and_starts_no_change(
    served: httpx.Client, tmp_path: Path, sig: signal.Signals
) -> None:
    http = served
    path = write_streams(tmp_path, N)
    http.put("/_simulator/faults", json={"latency_ms": 100})  # 40 creates, 2 at a time: ~2 s
    with inherited(signal.SIGHUP, signal.SIG_DFL):  # as in a terminal session
        proc = run_apply(http, path)
    wait_for_creates(http, proc, 4)
    signalled_at = len(requests_log(http))
    proc.send_signal(sig)
    try:
        out, err = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail(f"apply did not stop after {sig.name}: {proc.communicate()}")

    assert proc.returncode == 128 + sig, (out, err, len(stream_creates(requests_log(http))))
    assert err.endswith(
        f"interrupted by {sig.name}: no change started after it; the apply lock, if this run "
        "held it, was released\n"
    )
    assert "Traceback" not in err
    http.put("/_simulator/faults", json={"latency_ms": 0})
    assert lock_streams(http) == []
    log = requests_log(http)
    # After the log was read: the creates then in flight (one per worker), and those started
    # before the handler ran (under a 100 ms request, one more per worker at most).
    assert len(stream_creates(log[signalled_at:])) <= 2 * WORKERS, (out, err)
    assert len(stream_creates(log)) < N
    # The report tells what was written: every create sent is a `done` line (the changes in
    # flight finished before the exit), the others `skipped` (it printed no report at all).
    sent = len(stream_creates(log))
    assert out.count("\ndone     + stream cam-") == sent, out
    assert out.count("\nskipped  + stream cam-") == N - sent, out
    assert f"Apply: {sent} done, 0 failed, {N - sent} skipped, 0 held." in out

    # The next run does the rest and finds no lock in its way.
    proc = run_apply(http, path)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, (out, err)
    assert sorted(stream_creates(requests_log(http))) == [f"cam-{i:02d}" for i in range(N)]
    assert lock_streams(http) == []


def test_a_hangup_ignored_by_the_parent_stays_ignored(served: httpx.Client, tmp_path: Path) -> None:
    """`nohup reconciler apply` (SIGHUP ignored when it starts): a closed terminal does not stop
    the run; it finishes every change and exits 0."""
    http = served
    path = write_streams(tmp_path, N)
    http.put("/_simulator/faults", json={"latency_ms": 20})
    with inherited(signal.SIGHUP, signal.SIG_IGN):
        proc = run_apply(http, path)
    wait_for_creates(http, proc, 4)
    proc.send_signal(signal.SIGHUP)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, (out, err)
    assert "40 done, 0 failed" in out
    assert sorted(stream_creates(requests_log(http))) == [f"cam-{i:02d}" for i in range(N)]
    assert lock_streams(http) == []


def test_a_signal_with_json_logs_ends_on_the_summary_with_its_exit_code(
    served: httpx.Client, tmp_path: Path
) -> None:
    """docs/cli.md: with --log-format json stderr holds JSON lines only and the summary is the
    last one, whatever the way out (the cron recipe reads it with `tail -n 1 | jq`). A signal
    gave a summary saying 130 and a plain-text line after it."""
    http = served
    path = write_streams(tmp_path, N)
    http.put("/_simulator/faults", json={"latency_ms": 100})
    proc = run_apply(http, path, "--log-format", "json")
    wait_for_creates(http, proc, 4)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 143, err
    events = [json.loads(line) for line in err.splitlines()]  # every line is JSON
    assert events[-1]["event"] == "summary" and events[-1]["exit_code"] == 143, events[-1]
    stopped = [e for e in events if e.get("event") == "error"]
    assert [e["exit_code"] for e in stopped] == [143]
    sent = len(stream_creates(requests_log(http)))
    assert (events[-1]["done"], events[-1]["skipped"]) == (sent, N - sent), events[-1]
    done = [e for e in events if e.get("event") == "change.done"]
    assert len(done) == sent  # as many as were written, each reported
    assert stopped[0]["message"].startswith("interrupted by SIGTERM: no change started after it")
    http.put("/_simulator/faults", json={"latency_ms": 0})
    assert lock_streams(http) == []
