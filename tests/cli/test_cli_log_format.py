"""`--log-format json` through the real command line: one JSON object per event on stderr (changes
started/done/failed/held, retries, rate-limit waits, errors), secrets masked, a final summary line
a cron job can alert on; the default text output unchanged."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx


def events_of(stderr: str) -> list[dict[str, Any]]:
    lines = stderr.splitlines()
    assert lines, "no event on stderr"
    return [json.loads(line) for line in lines]  # every line is one JSON object


def test_apply_writes_each_change_started_and_done_then_the_summary(
    invoke: Any, manifests: Path
) -> None:
    result = invoke("apply", "--yes", "--log-format", "json", manifests)
    assert result.exit_code == 0, result.output
    events = events_of(result.stderr)
    started = [e["change"] for e in events if e["event"] == "change.started"]
    done = {e["change"]: e for e in events if e["event"] == "change.done"}
    assert (
        sorted(started)
        == sorted(done)
        == [
            "broadcast/encore-show/create",
            "broadcast/launch-show/create",
            "broadcast/launch-show/set_status",
            "stream/studio-a/activate",
            "stream/studio-a/create",
        ]
    )
    create = done["stream/studio-a/create"]
    assert isinstance(create["object_id"], int)
    assert create["reason"] == "declared, not in the account"
    summary = events[-1]
    assert summary["event"] == "summary"
    assert summary["command"] == "apply"
    assert summary["exit_code"] == 0
    assert (summary["done"], summary["failed"], summary["held"]) == (5, 0, 0)
    assert summary["requests"] > 0 and summary["retries"] == 0
    # stdout is the text report, as without the flag
    assert "Apply: 5 done, 0 failed, 0 skipped, 0 held." in result.stdout


def test_default_text_output_is_unchanged(invoke: Any, manifests: Path) -> None:
    plain = invoke("apply", "--yes", manifests)
    assert plain.exit_code == 0
    assert plain.stderr == ""  # no event lines unless asked for
    again = invoke("plan", manifests)
    assert again.stdout.endswith("No changes. The account matches the manifests.\n")
    assert again.stderr == ""


def test_held_changes_are_events_with_their_reason_and_the_summary_says_exit_3(
    invoke: Any, manifests: Path
) -> None:
    assert invoke("apply", "--yes", manifests).exit_code == 0
    (manifests / "broadcasts.yaml").unlink()  # the broadcasts' manifests became empty
    result = invoke("apply", "--yes", "--log-format", "json", manifests)
    assert result.exit_code == 3, result.output
    events = events_of(result.stderr)
    held = [e for e in events if e["event"] == "change.held"]
    assert {e["change"] for e in held} == {
        "broadcast/launch-show/delete",
        "broadcast/encore-show/delete",
    }
    assert all("empty" in e["held"] and isinstance(e["target_id"], int) for e in held)
    assert events[-1]["event"] == "summary"
    assert (events[-1]["exit_code"], events[-1]["held"]) == (3, 2)


class Flaky(httpx.BaseTransport):
    """The first stream list answers 429 (Retry-After 0), the first broadcast list 503 with a
    body that quotes the API key; everything else reaches the simulator."""

    def __init__(self, inner: httpx.BaseTransport, api_key: str) -> None:
        self.inner, self.api_key = inner, api_key
        self.seen: set[str] = set()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if request.method == "GET" and path not in self.seen:
            self.seen.add(path)
            if path == "/streaming/streams":
                return httpx.Response(429, headers={"Retry-After": "0"}, json={"error": "slow"})
            if path == "/streaming/broadcasts":
                error = f"upstream rejected APIKey {self.api_key}"
                return httpx.Response(503, json={"status": 503, "error": error})
        return self.inner.handle_request(request)


def test_retries_and_rate_limit_waits_are_events_and_secrets_are_masked(
    sim: Any, invoke: Any, manifests: Path
) -> None:
    invoke.transport = Flaky(sim.transport(), sim.config.api_key)
    env = {"RECONCILER_RETRIES": "2"}
    result = invoke("plan", "--log-format", "json", manifests, env=env)
    assert result.exit_code == 0, result.output
    events = events_of(result.stderr)
    waits = [e for e in events if e["event"] == "rate_limit.wait"]
    retries = [e for e in events if e["event"] == "retry"]
    assert [w["request"] for w in waits] == ["GET /streaming/streams"]
    assert [r["request"] for r in retries] == ["GET /streaming/broadcasts"]
    assert "HTTP 503" in retries[0]["detail"] and "APIKey ***" in retries[0]["detail"]
    assert sim.config.api_key not in result.stderr
    summary = events[-1]
    assert (summary["event"], summary["command"], summary["exit_code"]) == ("summary", "plan", 0)
    assert (summary["retries"], summary["rate_limited"]) == (2, 1)
    assert summary["pending"] == 5


def test_a_failed_change_is_an_event_with_its_reason(
    sim: Any, invoke: Any, manifests: Path
) -> None:
    class RefuseBroadcasts(httpx.BaseTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            if request.method == "POST" and request.url.path == "/streaming/broadcasts":
                return httpx.Response(422, json={"errors": {"name": ["is reserved"]}})
            return sim.transport().handle_request(request)

    invoke.transport = RefuseBroadcasts()
    result = invoke("apply", "--yes", "--log-format", "json", manifests)
    assert result.exit_code == 1
    events = events_of(result.stderr)
    failed = [e for e in events if e["event"] == "change.failed"]
    assert {e["change"] for e in failed} == {
        "broadcast/launch-show/create",
        "broadcast/encore-show/create",
    }
    assert all("is reserved" in e["detail"] and e["level"] == "warning" for e in failed)
    assert [e["change"] for e in events if e["event"] == "change.skipped"] == [
        "broadcast/launch-show/set_status"
    ]
    assert (events[-1]["event"], events[-1]["exit_code"], events[-1]["failed"]) == (
        "summary",
        1,
        2,
    )


def test_bad_manifests_are_an_error_event_then_the_summary(invoke: Any, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "kind: Settings\nname: demo\n---\nkind: Stream\nname: cam\nspec:\n  actve: true\n"
    )
    result = invoke("plan", "--log-format", "json", bad)
    assert result.exit_code == 1
    assert result.stdout == ""
    error, summary = events_of(result.stderr)
    assert error["event"] == "error"
    [problem] = error["problems"]
    assert (problem["path"], problem["line"], problem["field"]) == (str(bad), 7, "spec.actve")
    assert (summary["event"], summary["exit_code"]) == ("summary", 1)


def test_status_ends_with_a_summary(invoke: Any, manifests: Path) -> None:
    assert invoke("apply", "--yes", manifests).exit_code == 0
    result = invoke("status", "--log-format", "json", manifests)
    assert result.exit_code == 0, result.output
    assert "studio-a" in result.stdout
    [summary] = events_of(result.stderr)
    assert (summary["event"], summary["command"], summary["exit_code"]) == ("summary", "status", 0)
    assert summary["requests"] > 0
