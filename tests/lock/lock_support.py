"""Shared by the lock's end-to-end tests: a set of N inactive streams as manifests, the lock
streams in the account, and httpx transports that misbehave in front of the simulator."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from reconciler.lock.record import lock_record
from reconciler.model.marker import LOCK_KEY

SET = "lockset"
T0 = 1_780_000_000.0  # 2026-05-28T20:26:40Z


class Clock:
    """A platform clock the test moves: `sleep` advances it (and is remembered)."""

    def __init__(self, now: float = T0) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def write_streams(root: Path, n: int, set_name: str = SET) -> Path:
    """One file: the Settings of `set_name` and n inactive streams cam-00 .. cam-{n-1}."""
    root.mkdir(parents=True, exist_ok=True)
    docs = [f"kind: Settings\nname: {set_name}\n"] + [
        f"kind: Stream\nname: cam-{i:02d}\nspec:\n  active: false\n" for i in range(n)
    ]
    path = root / "streams.yaml"
    path.write_text("---\n".join(docs))
    return path


def lock_streams(api: Any, set_name: str = SET) -> list[dict[str, Any]]:
    """The set's locks no run released (held, or expired); released ones stay as the trail."""
    found = []
    for stream in api.list_streams():
        record = lock_record(stream)
        if record is not None and record.set_name == set_name and not record.released:
            found.append(stream)
    return found


def is_lock_write(entry: dict[str, Any]) -> bool:
    """A request log entry that creates, refreshes or deletes a lock stream."""
    return LOCK_KEY in json.dumps(entry.get("body")) or (
        entry["method"] == "DELETE" and entry["path"].startswith("/streaming/streams/")
    )


def stream_creates(log: list[dict[str, Any]]) -> list[str]:
    """Names of the (non-lock) streams POSTed, in log order."""
    return [
        str(e["body"]["name"])
        for e in log
        if e["method"] == "POST" and e["path"] == "/streaming/streams" and not is_lock_write(e)
    ]


class HidingLocks(httpx.BaseTransport):
    """A proxy whose stream listings never show a lock stream (as a lagging or filtering API
    might); everything else passes through."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if request.method != "GET" or request.url.path != "/streaming/streams":
            return response
        response.read()
        if response.status_code != 200:
            return response
        shown = [s for s in response.json() if lock_record(s) is None]
        headers = {k: v for k, v in response.headers.items() if k.lower() != "content-length"}
        return httpx.Response(200, headers=headers, json=shown, request=request)


class HangingWrite(httpx.BaseTransport):
    """Passes requests through; the one `hangs(request)` picks is committed by the simulator,
    then its answer is held back until `release` is set (a server that stops answering)."""

    def __init__(self, inner: httpx.BaseTransport, hangs: Callable[[httpx.Request], bool]) -> None:
        self.inner = inner
        self.hangs = hangs
        self.hung = threading.Event()
        self.release = threading.Event()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if not self.hung.is_set() and self.hangs(request):
            self.hung.set()
            self.release.wait(60)
        return response
