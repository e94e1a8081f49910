"""`reconciler watch` as an operator runs it: `reconciler simulator serve --webhook-url` pointed
at a `reconciler watch` subprocess on a loopback port, manifests in a directory, the simulator's
control API and request log over HTTP (the served-simulator session of tests/tutorial)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.tutorial.conftest import KEY, Tutorial

TOKEN = "watch-test-token-0123456789abcdef"
WAIT = 15.0  # seconds any reaction may take before a test fails (a bound, not a timing)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until(what: str, check: Callable[[], Any], timeout: float = WAIT) -> Any:
    """Poll `check` until it returns something truthy; fail naming `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except (httpx.HTTPError, AssertionError, ValueError) as error:
            last = error
        if last:
            return last
        time.sleep(0.05)
    raise AssertionError(f"{what}: not within {timeout}s (last: {last!r})")


class Watch:
    """One `reconciler watch` process: its port, its log lines, its health and metrics."""

    def __init__(self, session: Session, port: int, *args: str) -> None:
        self.port = port
        self.lines: list[str] = []
        env = {
            **os.environ,
            "GCORE_API_KEY": KEY,
            "GCORE_BASE_URL": session.url,
            "RECONCILER_WEBHOOK_TOKEN": TOKEN,
            "NO_COLOR": "1",
        }
        env.pop("RECONCILER_LOG", None)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "reconciler", "watch", str(session.manifests),
             "--listen", f"127.0.0.1:{port}", "--poll", "0.5", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )  # fmt: skip
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5)
        wait_until("watch serving", lambda: any("watch serving on" in x for x in self.lines))

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def log(self) -> str:
        return "\n".join(self.lines)

    def readyz(self) -> dict[str, Any]:
        answer = self.http.get("/readyz")
        return {"status": answer.status_code, **answer.json()}

    def metrics(self) -> str:
        return self.http.get("/metrics").text

    def metric(self, name: str, **labels: str) -> float:
        """The sum of a metric's samples in /metrics that carry these labels."""
        total = 0.0
        wanted = [f'{k}="{v}"' for k, v in labels.items()]
        for line in self.metrics().splitlines():
            named = line.startswith(name) and line[len(name)] in " {"
            if named and all(w in line for w in wanted):
                total += float(line.rsplit(" ", 1)[1])
        return total

    def wait_ready(self, leader: bool = True) -> None:
        def ready() -> bool:
            state = self.readyz()
            return state["status"] == 200 and state["leader"] is leader

        wait_until(f"watch ready (leader={leader})\n{self.log}", ready)

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        code = self.proc.wait(timeout=30)
        self.close()
        return code

    def kill(self) -> None:
        """kill -9: no release, no goodbye (a crashed replica)."""
        self.proc.kill()
        self.proc.wait(timeout=10)
        self.close()

    def close(self) -> None:
        self._reader.join(timeout=5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self.http.close()


class Session(Tutorial):
    """The served simulator whose webhooks go to `watch_port`, and the watch processes."""

    def __init__(self, url: str, workdir: Path, watch_port: int) -> None:
        super().__init__(url, workdir, hooks=None)  # type: ignore[arg-type]
        self.watch_port = watch_port
        self.watches: list[Watch] = []

    def watch(self, *args: str, port: int | None = None) -> Watch:
        started = Watch(self, self.watch_port if port is None else port, *args)
        self.watches.append(started)
        return started

    def status_of(self, broadcast_id: int) -> Callable[[], str]:
        """Reads one broadcast by GET (a test that lists would hide the watch's own sweeps)."""
        return lambda: str(self.get(f"/streaming/broadcasts/{broadcast_id}")["status"])

    def requests(self) -> list[dict[str, Any]]:
        return list(self.http.get("/_simulator/requests").json())

    def list_sweeps(self) -> list[dict[str, Any]]:
        """Requests that list streams or broadcasts (a sweep's pages)."""
        return [
            r for r in self.requests()
            if r["method"] == "GET" and r["path"] in ("/streaming/streams", "/streaming/broadcasts")
        ]  # fmt: skip


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Session]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "reconciler", "simulator", "serve", "--port", "0",
         "--webhook-url", f"http://127.0.0.1:{port}/webhook/{TOKEN}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "GCORE_API_KEY": KEY},
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert " on http://127.0.0.1:" in first, first
        live = Session(first.split(" on ")[1].split(" ")[0], tmp_path, port)
        yield live
        for watch in live.watches:
            if watch.proc.poll() is None:
                watch.kill()
        live.http.close()
    finally:
        proc.terminate()
        proc.communicate(timeout=10)
