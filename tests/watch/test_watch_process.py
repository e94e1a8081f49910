"""`reconciler watch` as a service: the manifests follow the checkout (an edit applied without a
restart, a broken one changes nothing and is reported), SIGTERM stops it cleanly with the lease
released, and of two replicas on one set only the leaseholder writes; killed, the other takes
over within one lease ttl."""

from __future__ import annotations

import signal

import pytest

from reconciler.lock.record import lock_record
from tests.watch.conftest import Session, free_port, wait_until

pytestmark = pytest.mark.port

SETTINGS = "kind: Settings\nname: watched\n"


def stream(key: str, title: str) -> str:
    return f"---\nkind: Stream\nname: {key}\nspec:\n  name: {title}\n"


def names(session: Session) -> list[str]:
    return sorted(s["name"] for s in session.streams())


def lock_streams(session: Session) -> list[str]:
    """The set's locks no run released (a released one stays as the set's trail)."""
    return [
        s["name"]
        for s in session._all("/streaming/streams")
        if (record := lock_record(s)) is not None and not record.released
    ]


def test_a_manifest_edit_is_applied_and_a_broken_one_changes_nothing(session: Session) -> None:
    s = session
    s.write("all.yaml", SETTINGS + stream("a", "A") + stream("b", "B"))
    watch = s.watch("--lock-ttl", "30")
    watch.wait_ready()
    assert names(s) == ["A", "B"]

    s.write("all.yaml", SETTINGS + stream("a", "A") + stream("b", "B") + stream("c", "C"))
    wait_until("stream C created", lambda: names(s) == ["A", "B", "C"])

    # A broken checkout (b and c removed, and a typo): nothing is pruned, the error reported.
    s.write("all.yaml", SETTINGS + stream("a", "A") + "---\nkind: Stream\nname: d\nspecs: {}\n")
    wait_until("the error reported", lambda: watch.readyz()["manifests"] != "ok")
    state = watch.readyz()
    assert "all.yaml" in state["manifests"] and "specs" in state["manifests"]
    assert watch.metric("reconciler_watch_manifests_valid") == 0
    assert watch.metric("reconciler_watch_manifest_errors_total") == 1
    s.clear_log()
    watch.proc.send_signal(signal.SIGHUP)  # a forced reload of the same broken files
    wait_until("the reload", lambda: watch.metric("reconciler_watch_manifest_errors_total") == 2)
    assert [r for r in s.requests() if r["method"] == "DELETE"] == []
    assert names(s) == ["A", "B", "C"]

    # The fix lands: b is gone from the manifests now, and is pruned.
    s.write("all.yaml", SETTINGS + stream("a", "A") + stream("c", "C"))
    wait_until("stream B pruned", lambda: names(s) == ["A", "C"])
    assert watch.readyz()["manifests"] == "ok"
    assert watch.stop() == 0


def test_sigterm_exits_0_and_releases_the_lease(session: Session) -> None:
    s = session
    s.write("all.yaml", SETTINGS + stream("a", "A"))
    watch = s.watch("--lock-ttl", "60")
    watch.wait_ready()
    assert len(lock_streams(s)) == 1  # the lease, held while it runs
    assert watch.stop(signal.SIGTERM) == 0
    assert lock_streams(s) == []
    assert "Traceback" not in watch.log


def test_two_replicas_one_writes_and_the_other_takes_over_within_one_ttl(
    session: Session,
) -> None:
    s = session
    ttl = 4.0
    s.write("all.yaml", SETTINGS + stream("a", "A"))
    leader = s.watch("--lock-ttl", str(ttl), "--lock-owner", "replica-1")
    leader.wait_ready(leader=True)
    follower = s.watch("--lock-ttl", str(ttl), "--lock-owner", "replica-2", port=free_port())
    follower.wait_ready(leader=False)
    assert "replica-1" in follower.readyz()["following"]

    s.write("all.yaml", SETTINGS + stream("a", "A") + stream("b", "B"))
    wait_until("stream B created", lambda: names(s) == ["A", "B"])
    assert leader.metric("reconciler_api_requests_total", method="POST") >= 1
    for method in ("POST", "PATCH", "PUT", "DELETE"):  # the follower only reads
        assert follower.metric("reconciler_api_requests_total", method=method) == 0
    assert follower.metric("reconciler_watch_changes_total") == 0

    leader.kill()  # kill -9: no release; the lease must expire
    s.write("all.yaml", SETTINGS + stream("a", "A") + stream("b", "B") + stream("c", "C"))
    # Within one ttl of the last refresh (plus the follower's retry period and a sweep).
    wait_until("the follower leads", lambda: follower.readyz()["leader"], timeout=ttl + 5)
    wait_until("stream C created", lambda: names(s) == ["A", "B", "C"])
    assert follower.metric("reconciler_watch_leader") == 1
    assert follower.stop() == 0
    assert lock_streams(s) == []
