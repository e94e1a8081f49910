"""apply/workers.py: at most `count` threads, reused for every task; a task that raises does not
end its thread; `map` keeps the order of its items and raises the first error; leaving the
block runs what is queued, then joins the threads."""

from __future__ import annotations

import threading

import pytest

from reconciler.apply.workers import Workers


def test_tasks_run_on_at_most_count_threads_and_all_run_before_the_block_ends() -> None:
    ran: list[str] = []
    lock = threading.Lock()
    gate = threading.Event()

    def task() -> None:
        gate.wait(5)
        with lock:
            ran.append(threading.current_thread().name)

    with Workers(3, "w") as pool:
        for _ in range(50):
            pool.submit(task)
        gate.set()
    assert len(ran) == 50
    assert set(ran) <= {"w_0", "w_1", "w_2"}
    assert not [t for t in threading.enumerate() if t.name.startswith("w_")]


def test_a_task_that_raises_leaves_its_thread_serving() -> None:
    ran: list[int] = []

    def boom() -> None:
        raise RuntimeError("bug")

    with Workers(1) as pool:
        pool.submit(boom)
        pool.submit(lambda: ran.append(1))
    assert ran == [1]


def test_map_keeps_the_order_of_its_items_and_raises_the_first_error() -> None:
    with Workers(4) as pool:
        assert pool.map(lambda x: x * x, range(20)) == [x * x for x in range(20)]

        def half(x: int) -> int:
            if x % 2:
                raise ValueError(f"odd {x}")
            return x // 2

        with pytest.raises(ValueError, match="odd"):
            pool.map(half, range(6))
        assert pool.map(half, [4, 8]) == [2, 4]  # the pool still serves
