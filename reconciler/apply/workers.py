"""Apply's bounded pool: at most `count` long-lived threads pulling tasks from one queue, each
task a plain call (no future per task: handing thousands of changes to the pool one future each
cost more CPU than the changes' own bookkeeping). The pool is the concurrency limit: a task waits
in the queue until a thread is free.

Knows nothing of changes, stages or the API.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Iterable
from functools import partial
from types import TracebackType
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")
_STOP = None  # a thread takes it and ends


class Workers:
    """Threads are started as tasks arrive, up to `count`; leaving the `with` block lets every
    queued task run (a stopped run's tasks skip themselves, see the scheduler's guard), then
    joins the threads."""

    def __init__(self, count: int, name: str = "apply") -> None:
        self.count = max(1, count)
        self.name = name
        self._tasks: queue.SimpleQueue[Callable[[], object] | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []

    def __enter__(self) -> Workers:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def submit(self, task: Callable[[], object]) -> None:
        """Run `task` on a free thread. It must report its own outcome: what it raises is
        dropped (as a future nobody reads would keep it)."""
        if len(self._threads) < self.count:
            thread = threading.Thread(
                target=self._serve, name=f"{self.name}_{len(self._threads)}", daemon=False
            )
            self._threads.append(thread)
            thread.start()
        self._tasks.put(task)

    def map(self, work: Callable[[T], R], items: Iterable[T]) -> list[R]:
        """`work` over `items` on the pool, results in the order of `items`; once all have
        finished, the error of the first item that raised is raised here."""
        done: queue.SimpleQueue[tuple[int, R | None, BaseException | None]] = queue.SimpleQueue()

        def one(position: int, item: T) -> None:
            try:
                done.put((position, work(item), None))
            except BaseException as error:  # handed to the caller, never lost with the thread
                done.put((position, None, error))

        count = 0
        for position, item in enumerate(items):
            self.submit(partial(one, position, item))
            count += 1
        results: dict[int, R | None] = {}
        errors: dict[int, BaseException] = {}
        for _ in range(count):
            position, result, error = done.get()
            results[position] = result
            if error is not None:
                errors[position] = error
        if errors:
            raise errors[min(errors)]
        return [results[p] for p in range(count)]  # type: ignore[misc]

    def close(self) -> None:
        """Let the queued tasks run, then end and join every thread."""
        for _ in self._threads:
            self._tasks.put(_STOP)
        for thread in self._threads:
            thread.join()
        self._threads = []

    def _serve(self) -> None:
        while (task := self._tasks.get()) is not _STOP:
            # A task reports its own outcome; one that raises all the same must not end its
            # thread, or the tasks queued behind it would never run.
            with contextlib.suppress(BaseException):
                task()
