"""`reconciler apply` whose lock is lost mid-run (issue 9, items 6 and 7): it stops before its
next write, reports every change not started as SKIPPED with the reason and exits 1; and a run
whose requests stop answering stops refreshing its lock, so another run can take the set over.
"""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from cli_harness import Invoke
from lock_support import (
    SET,
    HangingWrite,
    is_lock_write,
    lock_streams,
    stream_creates,
    write_streams,
)

from reconciler.lock.lease import acquire_lock
from reconciler.lock.record import lock_record
from reconciler.simulator import Faults

N = 40
LOST = (
    f"the apply lock was lost: the lock of manifest set '{SET}' was removed while held; "
    "another run may have taken it over"
)


def wait_until(condition: Any, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.005)


def rows(stdout: str, label: str) -> list[str]:
    return [line for line in stdout.splitlines() if line.startswith(f"{label} ")]


def names(lines: list[str]) -> list[str]:
    """`skipped  + stream cam-17: create: ...` -> cam-17."""
    return [re.search(r" stream (cam-\d+)", line).group(1) for line in lines]  # type: ignore[union-attr]


def test_a_lock_removed_mid_apply_stops_the_run_before_its_next_write(
    sim: Any, api: Any, tmp_path: Path
) -> None:
    invoke = Invoke(sim)
    path = write_streams(tmp_path, N)
    sim.set_faults(Faults(latency_ms=50))  # 40 creates one at a time: about 2 s of writing
    removed: list[int] = []

    def operator_removes_the_lock() -> None:
        wait_until(lambda: len(stream_creates(sim.requests())) >= 3, "the first creates")
        (lock,) = lock_streams(api)
        api.delete_stream(int(lock["id"]))  # what `reconciler unlock` or the portal does
        removed.append(int(lock["id"]))

    remover = threading.Thread(target=operator_removes_the_lock)
    remover.start()
    result = invoke("apply", "--yes", "--concurrency", "1", "--lock-ttl", "1", path)
    remover.join()

    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    done, skipped = rows(result.stdout, "done"), rows(result.stdout, "skipped")
    assert len(done) + len(skipped) == N
    assert len(done) >= 3 and len(skipped) >= 1
    assert all(line.endswith(f": {LOST}") for line in skipped), skipped
    assert result.stdout.endswith(
        f"Apply: {len(done)} done, 0 failed, {len(skipped)} skipped, 0 held. "
        f"Stopped early: {LOST}. The next run does the rest.\n"
    )
    assert "was removed while held" in result.stderr  # the heartbeat said so as it saw it

    log = sim.requests()
    seen, _release = [
        i
        for i, e in enumerate(log)
        if e["method"] == "PATCH"
        and e["path"] == f"/streaming/streams/{removed[0]}"
        and e["status"] == 404
    ]  # the refresh that found the lock gone, and the release at the end (gone: nothing left)
    # After the server answered 404: the create in flight (one worker), and at most one more
    # started in the instant before the heartbeat read that answer. Then nothing.
    after = stream_creates(log[seen + 1 :])
    assert len(after) <= 2, after
    created = set(stream_creates(log))
    assert created.isdisjoint(names(skipped))
    writes_after = [e for e in log[seen + 1 :] if e["method"] != "GET"]
    assert [e for e in writes_after if not is_lock_write(e)] == [
        e for e in writes_after if e["method"] == "POST" and not is_lock_write(e)
    ]  # nothing but those creates, and the release of the lock stream (already gone: 404)
    assert [(e["method"], e["status"]) for e in writes_after if is_lock_write(e)] == [
        ("PATCH", 404)  # the release: marking it released found it gone
    ]

    # The next run does the rest: every stream once, no lock left but its released trail.
    sim.set_faults(Faults())
    again = invoke("apply", "--yes", path)
    assert again.exit_code == 0, again.output
    listed = sorted(s["name"] for s in api.list_streams())
    assert listed == [f"cam-{i:02d}" for i in range(N)] + [f"reconciler-lock: {SET}"]
    assert lock_streams(api) == []


def test_a_hung_request_stops_the_refresh_so_another_run_can_take_the_set(
    sim: Any, api: Any, tmp_path: Path
) -> None:
    invoke = Invoke(sim)
    path = write_streams(tmp_path, 5)

    def second_create(request: httpx.Request) -> bool:
        body = request.content.decode()
        return request.method == "POST" and "reconciler-lock" not in body and "cam-01" in body

    hanging = HangingWrite(sim.transport(), second_create)
    invoke.transport = hanging
    taken_over: list[str] = []

    def next_run_takes_over() -> None:
        wait_until(hanging.hung.is_set, "the hung request")

        # The hung run stops refreshing after a ttl without progress; its lock then expires.
        def expired() -> bool:
            records = [lock_record(s) for s in lock_streams(api)]
            return all(r is not None and r.expires_at <= time.time() for r in records)

        wait_until(expired, "the hung run's lock to expire")
        with acquire_lock(api, SET, owner="next run", wait=30) as lock:
            taken_over.append(lock.owner)
        hanging.release.set()

    thread = threading.Thread(target=next_run_takes_over)
    thread.start()
    result = invoke("apply", "--yes", "--concurrency", "1", "--lock-ttl", "1", path)
    hanging.release.set()
    thread.join()

    assert taken_over == ["next run"]
    assert result.exit_code == 1, result.output
    assert "no progress for over 1 s (a request hangs?)" in result.stderr
    assert names(rows(result.stdout, "done")) == ["cam-00", "cam-01"]
    skipped = rows(result.stdout, "skipped")
    assert names(skipped) == ["cam-02", "cam-03", "cam-04"]
    assert all(
        f"the apply lock was lost: the lock of manifest set '{SET}' expired at " in line
        for line in skipped
    )
    assert stream_creates(sim.requests()) == ["cam-00", "cam-01"]
    assert lock_streams(api) == []


def test_a_lock_removed_and_noticed_only_at_the_release_still_exits_1(
    sim: Any, api: Any, tmp_path: Path
) -> None:
    """`reconciler unlock --yes` while a short apply runs (the heartbeat comes every third of the
    ttl, 40 s by default: it never looked): the run wrote all it had, and another run may have
    written beside it since the removal; it exited 0 saying the account matches. The release
    finds the lock gone: exit 1, and the report says why."""
    invoke = Invoke(sim)
    path = write_streams(tmp_path, 5)
    removed: list[int] = []

    class UnlockedAfterTheFirstCreate(httpx.BaseTransport):
        def __init__(self) -> None:
            self.inner = sim.transport()

        def handle_request(self, request: httpx.Request) -> httpx.Response:
            response = self.inner.handle_request(request)
            if not removed and request.method == "POST" and b"cam-" in request.content:
                (lock,) = lock_streams(api)
                api.delete_stream(int(lock["id"]))
                removed.append(int(lock["id"]))
            return response

    invoke.transport = UnlockedAfterTheFirstCreate()
    result = invoke("apply", "--yes", "--concurrency", "1", path)
    assert removed
    assert result.exit_code == 1, result.output
    assert result.stdout.endswith(
        "Apply: 5 done, 0 failed, 0 skipped, 0 held. The apply lock was removed while this run "
        "held it (reconciler unlock?): another run may have written beside it; run plan to see "
        "where the account stands.\n"
    )
    after = invoke("plan", "--detailed-exitcode", path)
    assert after.exit_code == 0, after.output


def test_unlock_of_a_lock_that_has_not_expired_warns(sim: Any, api: Any, tmp_path: Path) -> None:
    invoke = Invoke(sim)
    path = write_streams(tmp_path, 1)
    holder = acquire_lock(api, SET, owner="a running apply")
    result = invoke("unlock", "--yes", path)
    assert result.exit_code == 0, result.output
    assert (
        "Warning: this lock has not expired: if its run is still applying, it goes on writing "
        "beside the next run until it notices, and then exits 1"
    ) in result.stderr
    assert f"removed 1 lock of '{SET}'" in result.stdout
    holder.stop_heartbeat()
