"""The lock seen from `apply`, the progress line, and redacted log lines."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from reconciler.cli import commands as cli
from reconciler.cli.logs import configure_logging
from reconciler.lock.lease import acquire_lock
from reconciler.model.changes import Action, Change, ChangeResult, Outcome, Resource, Stage
from reconciler.redact import register_secret


def test_apply_stops_when_another_run_holds_the_lock(
    sim: Any, api: Any, invoke: Any, manifests: Path
) -> None:
    with acquire_lock(api, "tutorial", owner="cron@build-7 pid 4242", ttl=600):
        sim.clear_log()
        result = invoke("apply", "--yes", manifests)
        assert result.exit_code == 1
        assert "cron@build-7 pid 4242" in result.stderr
        assert [e for e in sim.requests() if e["method"] != "GET"] == []
        # plan takes no lock: it still works while another run applies
        assert invoke("plan", manifests).exit_code == 0
    assert invoke("apply", "--yes", manifests).exit_code == 0


def test_progress_line_on_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    change = Change(Resource.STREAM, "studio-a", Action.CREATE, Stage.CREATE_STREAMS)
    progress = cli.Progress(enabled=True)
    progress.start(2)
    progress.result(ChangeResult(change, Outcome.DONE, object_id=1))
    progress.close()
    quiet = cli.Progress(enabled=False)
    quiet.start(1)
    quiet.result(ChangeResult(change, Outcome.DONE))
    err = capsys.readouterr().err
    assert err == "\r\x1b[K[1/2] done + stream studio-a\r\x1b[K"


def test_log_lines_go_to_stderr_redacted(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RECONCILER_LOG", "info")
    configure_logging()
    register_secret("live-key-0123456789")
    log = logging.getLogger("reconciler.api")
    log.info("GET /x with live-key-0123456789 -> rtmp://h/in/1?abcdef123456")
    log.debug("not shown at info")
    assert capsys.readouterr().err == "INFO reconciler.api: GET /x with *** -> rtmp://h/in/1?***\n"
    monkeypatch.setenv("RECONCILER_LOG", "warning")
    configure_logging()


def test_bad_log_level_is_a_clear_error(invoke: Any, manifests: Path) -> None:
    result = invoke("validate", manifests, env={"RECONCILER_LOG": "loud"})
    assert result.exit_code == 1 and "RECONCILER_LOG='loud'" in result.stderr
