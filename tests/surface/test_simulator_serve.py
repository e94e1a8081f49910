"""`reconciler simulator serve` as a user runs it: its own process on a real port, plain HTTP
requests, Ctrl-C or `kill` (SIGTERM) stop it cleanly, and --state survives a restart."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.port

KEY = "gc-7d1e0c5b9a8f4e3d2c1b0a9f8e7d6c5b"
AUTH = {"Authorization": f"APIKey {KEY}"}


class Served:
    def __init__(self, proc: subprocess.Popen[str], url: str) -> None:
        self.proc, self.url = proc, url

    def stop(self, sig: int) -> tuple[int, str, float]:
        started = time.monotonic()
        self.proc.send_signal(sig)
        out, _ = self.proc.communicate(timeout=10)
        return self.proc.returncode, out, time.monotonic() - started


@pytest.fixture
def serve() -> Iterator[Callable[..., Served]]:
    procs: list[subprocess.Popen[str]] = []

    def start(*args: str, ignore_sigint: bool = False) -> Served:
        proc = subprocess.Popen(
            [sys.executable, "-m", "reconciler", "simulator", "serve", "--port", "0", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "GCORE_API_KEY": KEY},
            # What `reconciler simulator serve &` in a CI script does to SIGINT.
            preexec_fn=(lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
            if ignore_sigint
            else None,
        )
        procs.append(proc)
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert " on http://127.0.0.1:" in first, first + proc.stdout.read()
        assert "API key from GCORE_API_KEY" in first and KEY not in first
        return Served(proc, first.split(" on ")[1].split(" ")[0])

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def test_serve_answers_like_the_api_and_stops_on_ctrl_c(serve: Callable[..., Served]) -> None:
    served = serve()
    with httpx.Client(base_url=served.url, timeout=5) as http:
        assert http.get("/streaming/streams").status_code == 401
        created = http.post("/streaming/streams", json={"stream": {"name": "cam"}}, headers=AUTH)
        assert created.status_code == 200 and created.json()["name"] == "cam"
        listed = http.get("/streaming/streams", headers=AUTH)
        assert [s["name"] for s in listed.json()] == ["cam"]
        assert http.get("/streaming/streams/999", headers=AUTH).status_code == 404
    code, out, took = served.stop(signal.SIGINT)
    assert (code, took < 5) == (0, True)
    assert "Traceback" not in out


@pytest.mark.parametrize("how", ["SIGTERM", "SIGINT while ignored by the shell"])
def test_kill_stops_cleanly_and_the_state_file_persists(
    serve: Callable[..., Served], tmp_path: Path, how: str
) -> None:
    state = tmp_path / "nested" / "sim.sqlite"  # its directory is created, as --simulator does
    served = serve("--state", str(state), ignore_sigint=how != "SIGTERM")
    reply = httpx.post(
        f"{served.url}/streaming/streams", json={"stream": {"name": "kept"}}, headers=AUTH
    )
    assert reply.status_code == 200
    sig = signal.SIGTERM if how == "SIGTERM" else signal.SIGINT
    code, out, took = served.stop(sig)
    assert (code, took < 5) == (0, True), out
    assert "Traceback" not in out

    again = serve("--state", str(state))
    names = [s["name"] for s in httpx.get(f"{again.url}/streaming/streams", headers=AUTH).json()]
    assert names == ["kept"]
    assert again.stop(signal.SIGTERM)[0] == 0


def test_a_bad_state_file_or_busy_port_is_one_line(tmp_path: Path) -> None:
    junk = tmp_path / "junk.sqlite"
    junk.write_text("not a database")
    base = [sys.executable, "-m", "reconciler", "simulator", "serve"]
    bad = subprocess.run(
        [*base, "--port", "0", "--state", str(junk)], capture_output=True, text=True, timeout=30
    )
    assert bad.returncode == 1
    assert bad.stderr == f"Error: --state {junk}: cannot open simulator state {junk}: " + (
        "file is not a database\n"
    )
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        taken = subprocess.run(
            [*base, "--port", str(port)], capture_output=True, text=True, timeout=30
        )
    assert taken.returncode == 1
    assert taken.stderr.startswith(f"Error: cannot listen on 127.0.0.1:{port}: ")
    assert "Traceback" not in taken.stderr
