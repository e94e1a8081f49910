"""What apply runs is what was shown: when another run wrote to the account between the plan a
user approved and the lock, the plan made under the lock is shown whole (text, markdown, JSON)
and, on a terminal, asked for again. Case found by playing two pipelines: an apply of an older
commit ran while a user read the plan, and the approved run deleted a stream no plan showed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.api.client import ClientSettings, StreamingClient
from reconciler.cli import commands as cli
from reconciler.pipeline import RunOptions, apply_desired, load_desired, plan_against

EXTRA = "kind: Stream\nname: extra\nspec:\n  active: false\n"


def older_commit(manifests: Path, tmp_path: Path) -> Path:
    """The example manifests plus a stream `extra`, as an older commit's pipeline has them."""
    older = tmp_path / "older"
    shutil.copytree(manifests, older)
    (older / "extra.yaml").write_text(EXTRA)
    streams = older / "streams.yaml"
    streams.write_text(streams.read_text().replace("dvr_duration: 3700", "dvr_duration: 3600"))
    return older


def apply_elsewhere(sim: Any, path: Path) -> None:
    """Another run of the set (another pipeline) applies `path` to the account."""
    settings = ClientSettings(rate_limit=None)
    with StreamingClient(
        "http://simulator.invalid", sim.config.api_key, transport=sim.transport(), settings=settings
    ) as api:
        desired = load_desired([path], RunOptions())
        live, shown = plan_against(desired, api, RunOptions())
        assert apply_desired(desired, api, shown, live=live).report.exit_code == 0


def extra_streams(sim: Any) -> list[Any]:
    got = sim.transport().handle_request(
        httpx.Request(
            "GET",
            "http://simulator.invalid/streaming/streams?page=1",
            headers={"Authorization": f"APIKey {sim.config.api_key}"},
        )
    )
    got.read()
    return [s["id"] for s in json.loads(got.content) if s["name"] == "extra"]


def edit_dvr(manifests: Path, before: int = 3600, after: int = 3700) -> None:
    streams = manifests / "streams.yaml"
    text = streams.read_text()
    assert f"dvr_duration: {before}" in text
    streams.write_text(text.replace(f"dvr_duration: {before}", f"dvr_duration: {after}"))


@pytest.fixture
def applied(invoke: Any, manifests: Path) -> Path:
    assert invoke("apply", "--yes", manifests).exit_code == 0
    edit_dvr(manifests)
    return manifests


def test_a_plan_that_changed_before_the_lock_is_asked_for_again(
    sim: Any, invoke: Any, applied: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    older = older_commit(applied, tmp_path)
    asked = []

    def terminal() -> bool:  # asked right before each question: the other run applies first
        if not asked:
            apply_elsewhere(sim, older)
        asked.append(True)
        return True

    monkeypatch.setattr(cli, "stdin_is_terminal", terminal)
    declined = invoke("apply", applied, input="y\nn\n")
    assert declined.exit_code == 1, declined.output
    assert declined.stdout.count("Plan: 0 to create, 1 to update, 0 to delete") == 1
    assert "The account changed since the plan above was computed" in declined.stdout
    assert "Plan: 0 to create, 1 to update, 1 to delete" in declined.stdout
    assert "- stream extra (id " in declined.stdout.split("This is the plan now:")[1]
    assert "Apply this new plan instead?" in declined.stderr
    assert "Apply cancelled; nothing was changed." in declined.stderr
    assert len(extra_streams(sim)) == 1  # declined: the stream no approved plan showed stays

    sim.clear_log()
    asked.clear()
    again = invoke("apply", applied, input="y\n")  # the account is as the other run left it
    assert again.exit_code == 0, again.output
    assert "Apply this new plan instead?" not in again.stderr  # what was shown is what ran
    assert extra_streams(sim) == []


def test_a_plan_that_changed_is_shown_whole_in_markdown_and_json(
    sim: Any, invoke: Any, applied: Path, tmp_path: Path
) -> None:
    older = older_commit(applied, tmp_path)

    class OtherRunFirst(httpx.BaseTransport):
        """The other pipeline applies just before this run's first write (its lock)."""

        def __init__(self) -> None:
            self.inner, self.done = sim.transport(), False

        def handle_request(self, request: httpx.Request) -> httpx.Response:
            if request.method == "POST" and not self.done:
                self.done = True
                apply_elsewhere(sim, older)
            return self.inner.handle_request(request)

    invoke.transport = OtherRunFirst()
    markdown = invoke("apply", "--yes", "-o", "markdown", applied)
    assert markdown.exit_code == 0, markdown.output
    shown, now = markdown.stdout.split("This is the plan now:**")
    assert "**The account changed since the plan above was computed" in shown
    assert "extra" not in shown and "extra" in now
    assert extra_streams(sim) == []

    edit_dvr(applied, 3700, 3800)  # a new commit; the older one is applied again meanwhile
    invoke.transport = OtherRunFirst()
    as_json = invoke("apply", "--yes", "--log-format", "json", "-o", "json", applied)
    assert as_json.exit_code == 0, as_json.output
    events = [json.loads(line) for line in as_json.stderr.splitlines()]
    assert [e["event"] for e in events if e["event"] == "replan"] == ["replan"]
    changes = json.loads(as_json.stdout)["plan"]["changes"]
    assert sorted((c["key"], c["action"]) for c in changes) == [
        ("extra", "delete"),
        ("studio-a", "update"),
    ]
    (dvr,) = (c["diffs"] for c in changes if c["key"] == "studio-a")
    assert dvr == [{"op": "replace", "path": "/dvr_duration", "before": 3600, "after": 3800}]


def test_a_hand_edit_while_a_person_reads_the_plan_is_in_the_plan_asked_again(
    sim: Any, api: Any, invoke: Any, applied: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No other apply ran, so the lock alone would say nothing changed: an approved run still
    reads the account again (the person took their time), and the plan it would run shows
    the hand edit it reverts."""
    (launch,) = [b for b in api.list_broadcasts() if b["name"] == "Launch show"]
    asked = []

    def terminal() -> bool:
        if not asked:
            api.update_broadcast(launch["id"], {"pending_message": "Hand msg"})
        asked.append(True)
        return True

    monkeypatch.setattr(cli, "stdin_is_terminal", terminal)
    run = invoke("apply", applied, input="y\ny\n")
    assert run.exit_code == 0, run.output
    now = run.stdout.split("This is the plan now:")[1]
    assert 'pending_message: "Hand msg" -> "Please wait ..."' in now
    assert "Apply this new plan instead?" in run.stderr
    assert api.get_broadcast(launch["id"])["pending_message"] == "Please wait ..."
    assert invoke("plan", "--detailed-exitcode", applied).exit_code == 0
