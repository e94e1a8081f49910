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


def test_each_thread_has_its_own_value_and_ended_threads_values_are_closed() -> None:
    closed: list[str] = []
    made = iter(f"v{i}" for i in range(10))
    values = PerThread(lambda: next(made), close=closed.append)
    assert values.get() == "v0"
    assert values.get() == "v0"  # made once per thread

    seen: list[str] = []
    worker = threading.Thread(target=lambda: seen.extend([values.get(), values.get()]))
    worker.start()
    worker.join()
    assert seen == ["v1", "v1"]
    assert closed == []

    other = threading.Thread(target=lambda: seen.append(values.get()))
    other.start()
    other.join()
    assert seen[-1] == "v2"
    assert closed == ["v1"]  # the ended worker's value, closed when the next thread made one

    values.close()
    assert sorted(closed) == ["v0", "v1", "v2"]
