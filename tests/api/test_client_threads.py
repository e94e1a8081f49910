"""Calls from many threads: each thread sends through a connection of its own (what a shared
connection pool cost per request), and connections of threads that ended are closed."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from reconciler.api import deadline
from reconciler.api.client import ClientSettings, StreamingClient
from reconciler.api.perthread import PerThread

KEY = "test-key-0123456789"


def test_page_threads_do_not_check_each_others_connections(
    sim: Any, sim_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """httpx's pool checks every idle connection it holds (a poll each, under its lock) before
    and after each request: 8 page threads sharing one pool made that ~16 checks per page."""
    checks = 0
    real = deadline._DeadlineStream.get_extra_info

    def counted(stream: deadline._DeadlineStream, info: str) -> Any:
        nonlocal checks
        checks += info == "is_readable"
        return real(stream, info)

    monkeypatch.setattr(deadline._DeadlineStream, "get_extra_info", counted)
    sim.create_many("streams", ({"name": f"s{i}"} for i in range(400)))
    settings = ClientSettings(rate_limit=None, concurrency=8)
    with StreamingClient(sim_server.url, KEY, settings=settings) as api:
        api.expect_counts(streams=400, broadcasts=0)
        assert len(api.list_streams()) == 400
        requests = api.stats().total
    assert requests == 17  # 16 pages and the empty one
    assert checks <= 2 * requests  # the thread's own connection, before and after its request


def run_in_thread(work: Any) -> None:
    thread = threading.Thread(target=work)
    thread.start()
    thread.join()


def test_each_live_thread_has_its_own_value_and_an_ended_threads_value_is_passed_on() -> None:
    closed: list[str] = []
    made = iter(f"v{i}" for i in range(10))
    values = PerThread(lambda: next(made), close=closed.append)
    assert values.get() == "v0"
    assert values.get() == "v0"  # made once per thread

    seen: list[str] = []
    run_in_thread(lambda: seen.extend([values.get(), values.get()]))
    assert seen == ["v1", "v1"]
    run_in_thread(lambda: seen.append(values.get()))
    assert seen[-1] == "v1"  # the ended worker's value, not a new one
    assert closed == []

    # Two threads at once never share one: the second makes its own.
    both = threading.Barrier(2)

    def together() -> None:
        seen.append(values.get())
        both.wait()

    pair = [threading.Thread(target=together) for _ in range(2)]
    for thread in pair:
        thread.start()
    for thread in pair:
        thread.join()
    assert sorted(seen[-2:]) == ["v1", "v2"]

    values.close()
    assert sorted(closed) == ["v0", "v1", "v2"]


def test_applies_one_after_another_keep_their_connections(
    sim: Any, sim_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Apply's workers end with each apply; the next apply's threads (in `watch`, every
    reconcile) send through the connections the last ones opened."""
    connects = 0
    real = deadline._DeadlineBackend.connect_tcp

    def counted(backend: deadline._DeadlineBackend, *args: Any, **kwargs: Any) -> Any:
        nonlocal connects
        connects += 1
        return real(backend, *args, **kwargs)

    monkeypatch.setattr(deadline._DeadlineBackend, "connect_tcp", counted)
    settings = ClientSettings(rate_limit=None, concurrency=4)
    with StreamingClient(sim_server.url, KEY, settings=settings) as api:
        for round_ in range(3):  # three applies of 4 creates, each on 4 new threads
            workers = [
                threading.Thread(target=api.create_stream, args=({"name": f"r{round_}-{i}"},))
                for i in range(4)
            ]
            for thread in workers:
                thread.start()
            for thread in workers:
                thread.join()
        assert connects == 4  # the first round's threads' connections, kept by the next rounds
        assert len(api.list_streams()) == 12
