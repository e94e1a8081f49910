"""The simulator over a real TCP port and the real entry point; state persisted in a file."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from reconciler.simulator import Simulator, SimulatorConfig
from reconciler.simulator.cli import simulator as simulator_group
from tests.simulator.helpers import KEY, webhook_receiver

pytestmark = pytest.mark.port


def http(url: str) -> httpx.Client:
    return httpx.Client(base_url=url, headers={"Authorization": f"APIKey {KEY}"}, timeout=5)


def test_crud_over_a_real_port(sim: Simulator, sim_server: Any) -> None:
    with http(sim_server.url) as c:
        created = c.post("/streaming/streams", json={"stream": {"name": "port", "active": True}})
        sid = created.json()["id"]
        assert c.get(f"/streaming/streams/{sid}").json()["name"] == "port"
        assert c.post(f"/_simulator/streams/{sid}/connect", json={}).json()["live"] is True
        assert c.delete(f"/streaming/streams/{sid}").status_code == 204
        assert c.get(f"/streaming/streams/{sid}").status_code == 404
        assert c.head("/streaming/streams").status_code == 405
    assert sim.counters()["DELETE /streaming/streams/{id}"] == 1


def test_bad_input_over_a_real_port(sim_server: Any) -> None:
    with http(sim_server.url) as c:
        assert c.post("/streaming/streams", content=b"{oops").status_code == 400
        huge = c.post("/streaming/streams", content=b"x" * 1_100_000)
        assert huge.status_code == 413 and huge.json()["status"] == 413
    with http(sim_server.url) as c:  # a new connection: the server closed the last one
        assert c.request("BREW", "/streaming/streams").status_code == 405
        assert c.get("/streaming/streams").json() == []


def test_state_file_survives_a_restart(tmp_path: Path) -> None:
    path = str(tmp_path / "state.sqlite")
    first = Simulator(SimulatorConfig(api_key=KEY, state_path=path))
    with httpx.Client(base_url="http://s", transport=first.transport(),
                      headers={"Authorization": f"APIKey {KEY}"}) as c:  # fmt: skip
        sid = c.post("/streaming/streams", json={"name": "kept", "active": True}).json()["id"]
        c.post("/streaming/broadcasts", json={"name": "b", "status": "live", "stream_ids": [sid]})
    first.advance(3600)
    first_now = first.now()
    first.close()
    second = Simulator(SimulatorConfig(api_key=KEY, state_path=path))
    with httpx.Client(base_url="http://s", transport=second.transport(),
                      headers={"Authorization": f"APIKey {KEY}"}) as c:  # fmt: skip
        stream = c.get(f"/streaming/streams/{sid}").json()
        assert stream["name"] == "kept" and len(stream["broadcast_ids"]) == 1
        assert c.post("/streaming/streams", json={"name": "new"}).json()["id"] == sid + 1
    assert second.now() >= first_now  # the simulated timeline continues
    second.close()


def test_webhooks_from_a_served_simulator(tmp_path: Path) -> None:
    with webhook_receiver() as (url, received):
        sim = Simulator(SimulatorConfig(api_key=KEY, webhook_url=url))
        from reconciler.simulator import start_server

        server = start_server(sim, host="127.0.0.1", port=0)
        try:
            with http(server.url) as c:
                sid = c.post("/streaming/streams", json={"name": "s", "active": True}).json()["id"]
                c.post(f"/_simulator/streams/{sid}/connect", json={})
                hooks = c.get("/_simulator/webhooks").json()
        finally:
            server.stop()
            sim.close()
    assert [h["message"]["stream"]["live"] for h in received] == [True, True]
    assert all(h["delivered"] for h in hooks)


def test_cli_help_names_the_key_default() -> None:
    result = CliRunner().invoke(simulator_group, ["serve", "--help"])
    assert result.exit_code == 0
    assert "GCORE_API_KEY" in result.output and "sim-key" in result.output


def test_cli_rejects_bad_flags_without_traceback() -> None:
    result = CliRunner().invoke(simulator_group, ["serve", "--error-rate", "2"])
    assert result.exit_code == 2 and "Traceback" not in result.output


def test_serve_command_end_to_end(tmp_path: Path) -> None:
    """Runs `serve` in a child process on a free port, as a user would, then stops it."""
    state = tmp_path / "served.sqlite"
    code = (
        "import sys; from reconciler.simulator.cli import simulator; "
        "simulator(['serve', '--port', '0', '--state', sys.argv[1], '--api-key', sys.argv[2],"
        " '--latency-ms', '1', '--seed', '3'])"
    )
    env = {k: v for k, v in os.environ.items() if k != "GCORE_API_KEY"}
    with subprocess.Popen(
        [sys.executable, "-c", code, str(state), KEY],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    ) as proc:
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            match = re.search(r"http://127\.0\.0\.1:\d+", line)
            assert match, line
            assert KEY not in line  # the key is never printed
            with http(match.group(0)) as c:
                assert c.post("/streaming/streams", json={"name": "cli"}).status_code == 200
                assert c.get("/_simulator/faults").json()["latency_ms"] == 1
        finally:
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    reopened = Simulator(SimulatorConfig(api_key=KEY, state_path=str(state)))
    with httpx.Client(base_url="http://s", transport=reopened.transport(),
                      headers={"Authorization": f"APIKey {KEY}"}) as c:  # fmt: skip
        assert [s["name"] for s in c.get("/streaming/streams").json()] == ["cli"]
    reopened.close()


def test_unreadable_state_file_is_a_clear_error(tmp_path: Path) -> None:
    bogus = tmp_path / "not-a-db.sqlite"
    bogus.write_text("this is not sqlite " * 100)
    with pytest.raises(ValueError, match=r"not-a-db\.sqlite"):
        Simulator(SimulatorConfig(api_key=KEY, state_path=str(bogus)))
    result = CliRunner().invoke(simulator_group, ["serve", "--port", "0", "--state", str(bogus)])
    assert result.exit_code == 1 and "cannot open" in result.output
    assert "Traceback" not in result.output


def test_a_client_that_disappears_leaves_no_traceback(
    sim_server: Any, capfd: pytest.CaptureFixture[str]
) -> None:
    import socket

    host, port = sim_server.url.removeprefix("http://").split(":")
    for _ in range(20):
        with socket.create_connection((host, int(port))) as raw:
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            raw.sendall(b"GET /streaming/streams HTTP/1.1\r\nHost: x\r\n\r\n")
        # closed with RST before reading the answer
    with http(sim_server.url) as c:
        assert c.get("/streaming/streams").status_code == 200
    assert "Traceback" not in capfd.readouterr().err


def test_stop_finishes_every_connection_before_the_state_closes(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """`stop()` then `close()` (the fixtures' and `serve`'s order) never lets a request reach a
    closed state: that printed `sqlite3.ProgrammingError: Cannot operate on a closed database`."""
    import http.client
    import socket

    from reconciler.simulator import start_server

    path = str(tmp_path / "state.sqlite")
    sim = Simulator(SimulatorConfig(api_key=KEY, state_path=path))
    server = start_server(sim, host="127.0.0.1", port=0)
    body = b'{"name": "late", "active": true}'
    head = (
        f"POST /streaming/streams HTTP/1.1\r\nHost: sim\r\nAuthorization: APIKey {KEY}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    with socket.create_connection((server.host, server.port), timeout=10) as conn:
        conn.sendall(b"GET /_simulator/health HTTP/1.1\r\nHost: sim\r\n\r\n")
        health = http.client.HTTPResponse(conn)
        health.begin()
        assert (health.status, health.read()) == (200, b'{"ok": true}')  # its handler runs now
        conn.sendall(head + body[:-1])  # ... and waits for the body's last byte
        server.stop()
        sim.close()
        with contextlib.suppress(OSError):  # the server may have closed the connection
            conn.sendall(body[-1:])
        with contextlib.suppress(ConnectionResetError):
            assert conn.recv(4096) == b""  # a request cut short by the stop is not answered
    err = capfd.readouterr().err
    assert "Traceback" not in err, err
    reopened = Simulator(SimulatorConfig(api_key=KEY, state_path=path))
    with httpx.Client(base_url="http://s", transport=reopened.transport(),
                      headers={"Authorization": f"APIKey {KEY}"}) as c:  # fmt: skip
        assert c.get("/streaming/streams").json() == []
    reopened.close()


def test_serve_stops_on_sigterm_delivered_to_any_of_its_threads() -> None:
    """The kernel hands a signal sent to the process (`kill`, docker stop, CI teardown) to any of
    its threads. When it lands on the HTTP thread, Python only sets a flag for the main thread's
    handler: a main thread blocked for good (an untimed join) never ran it, and `serve` kept
    serving until SIGKILL. Here the signal is sent to the HTTP thread itself, every time."""
    code = (
        "import signal, threading, time\n"
        "from reconciler.simulator.cli import simulator\n"
        "def poke():\n"
        "    while not any(t.name == 'simulator-http' for t in threading.enumerate()):\n"
        "        time.sleep(0.01)\n"
        "    time.sleep(0.2)\n"
        "    http = next(t for t in threading.enumerate() if t.name == 'simulator-http')\n"
        "    signal.pthread_kill(http.ident, signal.SIGTERM)\n"
        "threading.Thread(target=poke, daemon=True).start()\n"
        "simulator(['serve', '--port', '0'])\n"
    )
    with subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as proc:
        try:
            out, err = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            pytest.fail(f"`serve` still ran 10 s after SIGTERM: {out} {err}")
    assert proc.returncode == 0, err
    assert "simulator on http://127.0.0.1:" in out
