"""When the platform breaks under `reconciler watch`: 5xx answers make the reconcile fail with
no write (no plan from a failed read), /readyz says degraded, and once the platform answers
again the full resync that follows repairs what the lost reconcile missed. Logs in JSON lines
carry one event per hint, reconcile and change, the token never among them."""

from __future__ import annotations

import json
import sys

import pytest

from tests.cli_harness import Invoke
from tests.watch.conftest import TOKEN, Session, wait_until
from tests.watch.test_watch_reacts import SETTINGS, STUDIO, show

pytestmark = pytest.mark.port


def test_5xx_answers_write_nothing_then_the_resync_repairs(session: Session) -> None:
    s = session
    s.write("all.yaml", SETTINGS + "---\n" + STUDIO + "---\n" + show("live"))
    watch = s.watch("--lock-ttl", "30", "--retries", "0", "--log-format", "json")
    watch.wait_ready()
    sid, bid = s.stream("Studio A")["id"], s.broadcast("Evening show")["id"]
    status = s.status_of(bid)
    s.control(f"streams/{sid}/connect")
    wait_until("settled", lambda: watch.metric("reconciler_watch_queue_depth") == 0)

    s.http.put("/_simulator/faults", json={"error_rate": 1.0})
    s.clear_log()
    s.control(f"streams/{sid}/disconnect")  # the hint's reads answer 500
    wait_until("degraded", lambda: "degraded" in watch.readyz())
    # The metrics are exported after the reconcile ends: wait for them rather than race them.
    wait_until(
        "the failed reconcile counted",
        lambda: watch.metric("reconciler_watch_reconciles_total", result="failed") >= 1,
    )
    # The simulator's fault answers 500, 502 or 503 at random: each is counted under its status.
    wait_until(
        "the 5xx answers counted",
        lambda: (
            sum(
                watch.metric("reconciler_api_requests_total", status=code)
                for code in ("500", "502", "503")
            )
            >= 1
        ),
    )
    # No write was even tried on the show: the failed read planned nothing (the lease's own
    # refreshes may be tried, answered 500 without effect).
    assert [r for r in s.requests() if r["path"] == f"/streaming/broadcasts/{bid}"
            and r["method"] != "GET"] == []  # fmt: skip
    assert [r for r in s.requests() if r["method"] != "GET" and r["status"] < 500] == []

    s.http.put("/_simulator/faults", json={"error_rate": 0.0})
    wait_until("the show paused by the resync", lambda: status() == "paused")
    wait_until("healthy again", lambda: "degraded" not in watch.readyz())
    assert watch.stop() == 0

    events = [json.loads(line) for line in watch.lines if line.startswith("{")]
    kinds = {e["event"] for e in events}
    assert {"watch.hint", "watch.reconcile", "change.done"} <= kinds, kinds
    assert TOKEN not in watch.log


def test_watch_without_the_extra_says_how_to_install_it(
    sim: object, tmp_path: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "prometheus_client", None)  # as if not installed
    for name in [m for m in sys.modules if m.startswith("reconciler.watch")]:
        monkeypatch.delitem(sys.modules, name)
    result = Invoke(sim)("watch", str(tmp_path), env={"RECONCILER_WEBHOOK_TOKEN": TOKEN})
    assert result.exit_code == 1
    assert result.stderr == (
        "error: reconciler watch needs the [watch] extra (prometheus_client is missing): "
        "pip install 'reconciler[watch]'\n"
    )
    assert sim.requests() == []  # type: ignore[attr-defined]
