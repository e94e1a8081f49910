"""The platform tutorial played as a user plays it: `reconciler simulator serve` on a loopback port
with `--webhook-url` pointed at a sink in the test, the real `reconciler` command line in its own
process, manifests edited in a directory, the simulator's control API over HTTP."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

KEY = "gc-tutorial-0123456789abcdef0123456789"
AUTH = {"Authorization": f"APIKey {KEY}"}


class WebhookSink:
    """A loopback endpoint that keeps every JSON payload POSTed to it, in order."""

    def __init__(self) -> None:
        received: list[dict[str, Any]] = []
        self.received = received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                received.append(json.loads(self.rfile.read(length) or b"null"))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def wait_for(self, kind: str, predicate: Any, timeout: float = 5.0) -> dict[str, Any]:
        """The first payload of `kind` whose object satisfies `predicate` (delivery is async)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for payload in list(self.received):
                if payload.get("type") == kind and predicate(payload["message"][kind]):
                    return dict(payload["message"][kind])
            time.sleep(0.02)
        raise AssertionError(f"no {kind} webhook matching; got {self.received}")


@dataclass
class Run:
    code: int
    out: str
    err: str


class Tutorial:
    """The served simulator, the manifests directory and the real CLI, as one user session."""

    def __init__(self, url: str, workdir: Path, hooks: WebhookSink) -> None:
        self.url, self.hooks, self.key = url, hooks, KEY
        self.manifests = workdir / "manifests"
        self.manifests.mkdir()
        self.http = httpx.Client(base_url=url, timeout=10)
        self.known_ids: set[int] = set()

    # --- the account, as a test reads it --------------------------------------------------------

    def get(self, path: str) -> Any:
        answer = self.http.get(path, headers=AUTH)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def streams(self) -> list[dict[str, Any]]:
        return [s for s in self._all("/streaming/streams") if "reconciler-lock" not in str(s)]

    def broadcasts(self) -> list[dict[str, Any]]:
        return self._all("/streaming/broadcasts")

    def stream(self, name: str) -> dict[str, Any]:
        (found,) = [s for s in self.streams() if s["name"] == name]
        return found

    def broadcast(self, name: str) -> dict[str, Any]:
        (found,) = [b for b in self.broadcasts() if b["name"] == name]
        return found

    def _all(self, path: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        page = 1
        while batch := self.get(f"{path}?page={page}"):
            out += batch
            page += 1
        return out

    def control(self, path: str, body: dict[str, Any] | None = None) -> Any:
        answer = self.http.post(f"/_simulator/{path}", json=body or {})
        assert answer.status_code in (200, 204), answer.text
        return answer.json() if answer.content else None

    def writes(self) -> list[tuple[str, str, Any]]:
        """The mutating API requests since the last `clear_log`, in order, without the apply
        lock's own (its stream exists only during an apply: neither before nor after it)."""
        log = self.http.get("/_simulator/requests").json()
        out = []
        ours = self.known_ids | self._stream_ids()
        for entry in log:
            if entry["method"] == "GET" or "reconciler-lock" in json.dumps(entry.get("body")):
                continue
            path = entry["path"]
            lock = re.fullmatch(r"/streaming/streams/(\d+)", path)
            if lock and int(lock.group(1)) not in ours:
                continue  # the lock stream
            out.append((entry["method"], path, entry.get("body")))
        return out

    def _stream_ids(self) -> set[int]:
        return {int(s["id"]) for s in self.streams()}

    def clear_log(self) -> None:
        self.http.delete("/_simulator/requests")

    # --- the user's side: files and commands ----------------------------------------------------

    def write(self, name: str, text: str) -> None:
        (self.manifests / name).write_text(text)

    def remove(self, name: str) -> None:
        (self.manifests / name).unlink()

    def cli(self, *args: str) -> Run:
        env = {
            **os.environ,
            "GCORE_API_KEY": KEY,
            "GCORE_BASE_URL": self.url,
            "NO_COLOR": "1",
            "RECONCILER_LOCK_OWNER": "tutorial-test",
        }
        proc = subprocess.run(
            [sys.executable, "-m", "reconciler", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        assert "Traceback" not in proc.stderr, proc.stderr
        return Run(proc.returncode, proc.stdout, proc.stderr)

    def apply(self, expect: int = 0) -> Run:
        """`apply --yes`; after an apply that exits 0 the next plan must be empty (invariant 3)."""
        self.known_ids = self._stream_ids()
        self.clear_log()
        run = self.cli("apply", str(self.manifests), "--yes")
        assert run.code == expect, f"apply exit {run.code}\n{run.out}\n{run.err}"
        if run.code == 0:
            plan = self.cli("plan", str(self.manifests), "--detailed-exitcode")
            assert plan.code == 0, f"apply said converged, plan disagrees:\n{plan.out}{plan.err}"
        return run


@pytest.fixture
def tutorial(tmp_path: Path) -> Iterator[Tutorial]:
    hooks = WebhookSink()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "reconciler",
            "simulator",
            "serve",
            "--port",
            "0",
            "--webhook-url",
            hooks.url,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "GCORE_API_KEY": KEY},
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert " on http://127.0.0.1:" in first, first
        session = Tutorial(first.split(" on ")[1].split(" ")[0], tmp_path, hooks)
        yield session
        session.http.close()
    finally:
        proc.terminate()
        proc.communicate(timeout=10)
        hooks.stop()
