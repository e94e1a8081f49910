"""A hostile network through the real command line: a server that trickles its answer, pages that
lie (empty where objects exist, repeating forever), an endless body, 429s, absurd numbers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from cli_harness import Invoke

from reconciler.api.client import ClientSettings, StreamingClient
from reconciler.errors import AmbiguousCreate
from tests.api.hostile import (
    TrickleServer,
    chunks,
    json_answer,
    page_of,
    wrapped,
    write_set,
)
from tests.conftest import API_KEY

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def invoke(sim: Any) -> Invoke:
    return Invoke(sim)


def hostile(invoke: Invoke, sim: Any, handler: Any) -> None:
    """From now on the CLI talks to `sim` through `handler`."""
    invoke.transport = wrapped(sim, handler)


def account_state(sim: Any) -> str:
    """Every stream and broadcast of the account, read past any hostile wrapper."""
    with StreamingClient(
        "http://simulator.invalid",
        API_KEY,
        transport=sim.transport(),
        settings=ClientSettings(rate_limit=None),
    ) as api:
        return repr((api.list_streams(), api.list_broadcasts()))


def writes(sim: Any) -> list[str]:
    return [f"{r['method']} {r['path']}" for r in sim.requests() if r["method"] != "GET"]


# -- item 7: a total deadline per request -------------------------------------------------------


@pytest.mark.port
@pytest.mark.parametrize("at_once", [0, 80], ids=["trickled-status-line", "trickled-body"])
def test_a_trickling_server_fails_the_run_at_the_deadline(tmp_path: Path, at_once: int) -> None:
    manifests = write_set(tmp_path / "m", streams=1, broadcasts=0)
    env = {
        "PATH": "/usr/bin:/bin",
        "GCORE_API_KEY": API_KEY,
        "RECONCILER_RATE_LIMIT": "0",
        "RECONCILER_RETRIES": "1",
        "RECONCILER_TIMEOUT": "1",
    }
    with TrickleServer(at_once=at_once, gap=0.2) as server:
        done = subprocess.run(
            [sys.executable, "-m", "reconciler", "plan", str(manifests)],
            env={**env, "GCORE_BASE_URL": server.url},
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,  # generous: without a deadline the answer takes 80 s per attempt
        )
    assert done.returncode == 1, done.stderr
    assert done.stdout == ""
    assert done.stderr == (
        "error: GET /streaming/streams: no complete answer within 1 s (--timeout, the deadline "
        "of a whole request) after 2 attempts; check GCORE_BASE_URL and the network\n"
    )
    assert server.methods == ["GET", "GET"]  # retried once, as the policy says for a read


@pytest.mark.port
def test_a_trickled_create_is_ambiguous_and_never_sent_twice() -> None:
    with (
        TrickleServer(at_once=20, gap=0.2) as server,
        StreamingClient(
            server.url, API_KEY, settings=ClientSettings(rate_limit=None, timeout=0.5, retries=3)
        ) as api,
        pytest.raises(AmbiguousCreate, match=r"no complete answer within 0\.5 s"),
    ):
        api.create_stream({"name": "slow"})
    assert server.methods == ["POST"]


# -- item 8: a page that answers [] where objects exist ----------------------------------------


@pytest.mark.parametrize("concurrency", ["1", "8"])
def test_an_empty_page_where_objects_exist_stops_apply_before_any_write(
    sim: Any, invoke: Invoke, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, concurrency: str
) -> None:
    manifests = write_set(tmp_path / "m", streams=3, broadcasts=60)
    assert invoke("apply", "--yes", manifests).exit_code == 0
    before = account_state(sim)
    sim.clear_log()

    def empty_page_2(request: httpx.Request, forward: Any) -> httpx.Response:
        if request.url.path == "/streaming/broadcasts" and page_of(request) == 2:
            return json_answer([])
        return forward(request)

    hostile(invoke, sim, empty_page_2)
    result = invoke("apply", "--yes", manifests, "--concurrency", concurrency)
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    assert result.stderr == (
        "error: listing broadcasts: page 3 holds 10 objects after page 2 ended the list with 0: "
        "the listing is incomplete or inconsistent, so it is not used; retry later\n"
    )
    assert writes(sim) == []
    assert account_state(sim) == before


# -- item 10: repeating pages, an endless body, 429s -------------------------------------------


def test_a_page_that_repeats_forever_stops_at_the_first_page_without_a_new_id(
    sim: Any, invoke: Invoke, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    manifests = write_set(tmp_path / "m", streams=30, broadcasts=0)
    assert invoke("apply", "--yes", manifests).exit_code == 0
    sim.clear_log()

    def always_page_1(request: httpx.Request, forward: Any) -> httpx.Response:
        if request.url.path == "/streaming/streams":
            first = request.url.copy_with(params={"page": "1"})
            return forward(httpx.Request("GET", first, headers=request.headers))
        return forward(request)

    hostile(invoke, sim, always_page_1)
    result = invoke("plan", manifests, "--concurrency", "1")
    assert result.exit_code == 1
    assert result.stderr == (
        "error: listing streams: page 2 brings no object that earlier pages did not "
        "(25 repeated): the listing is incomplete or inconsistent, so it is not used; retry later\n"
    )
    assert [r["query"] for r in sim.requests()] == [{"page": "1"}, {"page": "1"}]


def test_an_endless_answer_fails_at_the_size_cap_without_buffering_it(
    sim: Any, invoke: Invoke, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    manifests = write_set(tmp_path / "m", streams=1, broadcasts=0)
    pulled = [0]

    def endless(request: httpx.Request, forward: Any) -> httpx.Response:
        body = chunks(1 << 20, 300 << 20, pulled)  # 300 MB in 1 MB chunks, no Content-Length
        return httpx.Response(200, content=body, headers={"Content-Type": "application/json"})

    hostile(invoke, sim, endless)
    result = invoke("plan", manifests)
    assert result.exit_code == 1
    assert result.stderr == (
        "error: GET /streaming/streams?page=1 -> 200: the answer is larger than 32 MB "
        "(33554432 bytes, the client's max_response_bytes); the rest was not read\n"
    )
    assert pulled[0] <= 33  # the body was read up to the cap, never 300 MB


def test_a_declared_oversized_answer_is_refused_before_its_body_is_read(fake: Any) -> None:
    from reconciler.errors import BadResponse

    pulled = [0]
    big = httpx.Response(
        200, content=chunks(4096, 8192, pulled), headers={"Content-Length": "999999999"}
    )
    fake.script("GET", "/streaming/streams/7", big)
    with (
        fake.client(max_response_bytes=1000) as api,
        pytest.raises(BadResponse, match="larger than 1000 bytes"),
    ):
        api.get_stream(7)
    assert pulled[0] == 0


def test_429s_slow_the_client_for_the_rest_of_the_run_and_the_summary_says_so(
    sim: Any, invoke: Invoke, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    manifests = write_set(tmp_path / "m", streams=2, broadcasts=1)
    refusals = [3]

    def busy(request: httpx.Request, forward: Any) -> httpx.Response:
        if refusals[0] > 0:
            refusals[0] -= 1
            return json_answer({"status": 429, "error": "slow down"}, 429, **{"Retry-After": "0"})
        return forward(request)

    hostile(invoke, sim, busy)
    result = invoke(
        "plan", manifests, env={"RECONCILER_RATE_LIMIT": "40", "RECONCILER_RETRIES": "2"}
    )
    assert result.exit_code == 0, result.output
    assert result.stderr == "rate limit: slowed to 5 requests/s after 3 answers 429\n"
    assert result.stdout.endswith(
        "Plan: 3 to create, 0 to update, 0 to delete, 0 actions, 0 held.\n"
    )


def test_a_run_without_429_says_nothing_about_the_rate(
    sim: Any, invoke: Invoke, tmp_path: Path
) -> None:
    manifests = write_set(tmp_path / "m", streams=1, broadcasts=0)
    result = invoke("plan", manifests, env={"RECONCILER_RATE_LIMIT": "40"})
    assert result.exit_code == 0
    assert result.stderr == ""


# -- item 13: every number bounded at the edge --------------------------------------------------


@pytest.mark.parametrize(
    ("flag", "value", "expected"),
    [
        ("--timeout", "1e10", "10000000000.0 is not in the range 0<x<=3600.0"),
        ("--timeout", "0", "0.0 is not in the range 0<x<=3600.0"),
        ("--concurrency", "1000000000", "1000000000 is not in the range 1<=x<=64"),
        ("--retries", "99999999999999999999", "99999999999999999999 is not in the range 0<=x<=20"),
    ],
)
def test_absurd_flags_are_usage_errors(
    sim: Any, invoke: Invoke, tmp_path: Path, flag: str, value: str, expected: str
) -> None:
    manifests = write_set(tmp_path / "m", streams=1, broadcasts=0)
    result = invoke("plan", manifests, flag, value)
    assert result.exit_code == 2
    assert f"Invalid value for '{flag}': {expected}." in result.stderr
    assert "Traceback" not in result.output
    assert sim.requests() == []


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (
            ["--rate-limit", "1e-300"],
            {},
            "error: --rate-limit '1e-300': expected a number of requests per second between "
            "0.01 and 10000, or 0/none for unlimited\n",
        ),
        (
            ["--rate-limit", "1e308"],
            {},
            "error: --rate-limit '1e308': expected a number of requests per second between "
            "0.01 and 10000, or 0/none for unlimited\n",
        ),
        (
            [],
            {"RECONCILER_TIMEOUT": "1e10"},
            "error: RECONCILER_TIMEOUT='1e10': expected a number of seconds above 0 and at most "
            "3600\n",
        ),
        (
            [],
            {"RECONCILER_CONCURRENCY": "100000"},
            "error: RECONCILER_CONCURRENCY='100000': expected a whole number from 1 to 64\n",
        ),
        (
            [],
            {"RECONCILER_RETRIES": "1e9"},
            "error: RECONCILER_RETRIES='1e9': expected a whole number from 0 to 20\n",
        ),
    ],
)
def test_absurd_rates_and_environment_values_are_clear_errors(
    sim: Any, invoke: Invoke, tmp_path: Path, args: list[str], env: dict[str, str], message: str
) -> None:
    manifests = write_set(tmp_path / "m", streams=1, broadcasts=0)
    result = invoke("plan", manifests, *args, env=env)
    assert result.exit_code == 1
    assert result.stderr == message
    assert sim.requests() == []
