"""The webhook endpoint as an attack surface: without the token a 404 and no API request; bodies
capped, only POST with JSON; malformed ones refused and counted; an unknown id costs a read and
nothing else; the token never appears in the log."""

from __future__ import annotations

import pytest

from tests.watch.conftest import TOKEN, Session, Watch, wait_until

pytestmark = pytest.mark.port

MANIFESTS = """\
kind: Settings
name: watched
---
kind: Stream
name: studio-a
spec:
  name: Studio A
"""
STREAM_HOOK = {"type": "stream", "message": {"stream": {"id": 1, "live": True}}}


@pytest.fixture
def watch(session: Session) -> Watch:
    session.write("all.yaml", MANIFESTS)
    started = session.watch("--lock-ttl", "30")
    started.wait_ready()
    session.clear_log()
    return started


def test_a_forged_webhook_without_the_token_is_a_404_and_reaches_nothing(
    session: Session, watch: Watch
) -> None:
    for path in ("/webhook/guessed-token-0123456789abcdef", "/webhook/", "/webhook", "/"):
        answer = watch.http.post(path, json=STREAM_HOOK)
        assert answer.status_code == 404, path
    assert watch.http.post(f"/webhook/{TOKEN}x", json=STREAM_HOOK).status_code == 404
    assert watch.http.post(f"/webhook/{TOKEN[:-1]}", json=STREAM_HOOK).status_code == 404
    assert watch.http.get(f"/webhook/{TOKEN[:8]}").status_code == 404
    assert session.requests() == []
    assert watch.metric("reconciler_watch_webhooks_rejected_total", reason="not_found") == 7
    assert watch.metric("reconciler_watch_hints_received_total") == 0


def test_bad_bodies_are_refused_counted_and_change_nothing(session: Session, watch: Watch) -> None:
    url = f"/webhook/{TOKEN}"
    cases = [
        (watch.http.post(url, content=b"{" * 10, headers={"Content-Type": "application/json"}),
         400),
        (watch.http.post(url, json={"type": "stream", "message": {"stream": {"id": "1"}}}), 400),
        (watch.http.post(url, json=[1, 2]), 400),
        (watch.http.post(url, content=b"id=1", headers={"Content-Type": "text/plain"}), 415),
        (watch.http.post(url, content=b"x" * (64 * 1024 + 1),
                         headers={"Content-Type": "application/json"}), 413),
        (watch.http.get(url), 405),
        (watch.http.delete(url), 405),
    ]  # fmt: skip
    assert [answer.status_code for answer, _ in cases] == [code for _, code in cases]
    assert session.requests() == []
    assert watch.metric("reconciler_watch_webhooks_rejected_total") == len(cases)
    assert watch.metric("reconciler_watch_hints_received_total") == 0


def test_an_unknown_id_costs_a_read_and_nothing_else(session: Session, watch: Watch) -> None:
    hook = {"type": "stream", "message": {"stream": {"id": 987654321, "live": True}}}
    assert watch.http.post(f"/webhook/{TOKEN}", json=hook).status_code == 202

    def settled() -> bool:
        return watch.metric("reconciler_watch_reconciles_total", scope="slice") >= 1

    wait_until("the hint reconciled", settled)
    assert [(r["method"], r["path"], r["status"]) for r in session.requests()] == [
        ("GET", "/streaming/streams/987654321", 404)
    ]
    assert watch.stop() == 0
    assert TOKEN not in watch.log
    assert "/webhook/<token>" in watch.log


def test_a_video_webhook_is_accepted_and_ignored(session: Session, watch: Watch) -> None:
    hook = {"type": "video", "message": {"video": {"id": 5, "status": "ready"}}}
    answer = watch.http.post(f"/webhook/{TOKEN}", json=hook)
    assert (answer.status_code, answer.json()) == (202, {"hint": "ignored"})
    assert watch.metric("reconciler_watch_hints_received_total", type="ignored") == 1
    assert session.requests() == []


def test_watch_refuses_a_short_token_before_any_request(session: Session) -> None:
    session.write("all.yaml", MANIFESTS)
    run = session.cli("watch", str(session.manifests), "--webhook-token", "short")
    assert run.code == 1
    assert "--webhook-token" in run.err and "at least 16" in run.err
    assert "short" not in run.err
    assert session.requests() == []
