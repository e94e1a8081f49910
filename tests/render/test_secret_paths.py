"""Issue 9 item 11: every value that came from `${VAR}`, and every declared `srt_passphrase`, is a
secret everywhere: plan and apply in every format, export, status, errors, the simulator's
request log. Each test runs the real CLI and searches all it printed."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from cli_harness import Run

FORMATS = ("text", "json", "markdown")
YT_KEY = "abcd-efgh-ijkl-mnop-qrst"
AUTH = "SecretAuth4711"
ACCESS = "AccessTok9000xyz"
PASSPHRASE = "Tr0ub4dor-and-3-more"

PULL = (
    "kind: Stream\nname: restream\nspec:\n  pull: true\n"
    '  uri: "rtmp://a.rtmp.youtube.com/live2/${YT_KEY}'
    " https://cdn.example/live.m3u8?auth=${AUTH}"
    ' https://cdn.example/b.m3u8?access_token=${ACCESS}"\n'
)
ENV = {"YT_KEY": YT_KEY, "AUTH": AUTH, "ACCESS": ACCESS}


def _nowhere(runs: list[Run], *secrets: str) -> None:
    everything = "\n".join(r.output for r in runs)
    for secret in secrets:
        assert secret not in everything, (secret, everything)


def test_var_values_in_a_pull_uri_never_print(invoke: Any, manifests: Path) -> None:
    (manifests / "pull.yaml").write_text(PULL)
    runs = [invoke("plan", "-o", fmt, manifests, env=ENV) for fmt in FORMATS]
    assert all(r.exit_code == 0 for r in runs), [r.output for r in runs]
    assert "a.rtmp.youtube.com/live2/" in runs[0].stdout  # the field is shown...
    json.loads(runs[1].stdout)
    logged = {**ENV, "RECONCILER_LOG": "debug"}
    runs += [invoke("apply", "--yes", "-o", fmt, manifests, env=logged) for fmt in FORMATS]
    assert runs[3].exit_code == 0, runs[3].output
    assert "DEBUG" in runs[3].stderr
    runs += [invoke("status", "-o", fmt, manifests, env=logged) for fmt in ("text", "json")]
    assert [r.exit_code for r in runs[-2:]] == [0, 0]
    _nowhere(runs, YT_KEY, AUTH, ACCESS)  # ...without the values


def test_a_var_value_in_a_name_is_masked_in_plan_and_status(invoke: Any, manifests: Path) -> None:
    (manifests / "named.yaml").write_text(
        "kind: Stream\nname: named-cam\nspec:\n  name: Show ${PROJECT}\n"
    )
    env = {"PROJECT": "ProjectNebula42"}
    runs = [invoke("plan", "-o", fmt, manifests, env=env) for fmt in FORMATS]
    runs.append(invoke("apply", "--yes", manifests, env=env))
    runs += [invoke("status", "-o", fmt, manifests, env=env) for fmt in ("text", "json")]
    assert all(r.exit_code == 0 for r in runs), [r.output for r in runs]
    assert "Show ***" in runs[0].stdout
    _nowhere(runs, "ProjectNebula42")


@pytest.mark.parametrize("with_manifests", [True, False])
def test_export_writes_a_placeholder_for_a_secret_in_a_url(
    invoke: Any, manifests: Path, with_manifests: bool
) -> None:
    (manifests / "pull.yaml").write_text(PULL)
    assert invoke("apply", "--yes", manifests, env=ENV).exit_code == 0
    where = [manifests] if with_manifests else ["--set-name", "tutorial"]
    run = invoke("export", *where, env=ENV)
    assert run.exit_code == 0, run.output
    _nowhere([run], YT_KEY, AUTH, ACCESS)
    docs = list(yaml.safe_load_all(run.stdout))
    restream = next(d for d in docs if d.get("name") == "restream")
    assert restream["spec"]["uri"] == "${RESTREAM_URI}"
    assert "set RESTREAM_URI in the environment" in run.stdout


def test_a_server_error_echoing_a_declared_passphrase_hides_it(
    invoke: Any, manifests: Path, rewriting: Callable[..., None]
) -> None:
    """A literal `srt_passphrase` in a manifest (not from ${VAR}) is a secret too."""
    (manifests / "srt.yaml").write_text(
        f"kind: Stream\nname: srt-cam\nspec:\n  srt_passphrase: {PASSPHRASE}\n"
    )

    def echo(request: httpx.Request, response: httpx.Response | None) -> httpx.Response | None:
        if response is None and request.method == "POST" and b"srt_passphrase" in request.content:
            sent = json.loads(request.content)
            sent = sent.get("stream", sent)
            body = {"status": 400, "error": f"weak passphrase ({sent['srt_passphrase']})"}
            return httpx.Response(400, json=body)
        return None

    rewriting(echo)
    runs = [invoke("apply", "--yes", "-o", fmt, manifests) for fmt in FORMATS]
    assert [r.exit_code for r in runs] == [1, 1, 1], [r.output for r in runs]
    assert "weak passphrase" in runs[0].stdout
    _nowhere(runs, PASSPHRASE)


def test_a_validation_error_never_quotes_a_var_value(invoke: Any, manifests: Path) -> None:
    (manifests / "bad.yaml").write_text(
        "kind: Broadcast\nname: bad-show\nspec:\n  status: ${SHOW_STATUS}\n  streams: [studio-a]\n"
        "---\nkind: Stream\nname: bad-cam\nspec:\n  dvr_duration: ${DVR}\n"
    )
    env = {"SHOW_STATUS": "SecretProj111", "DVR": "7200"}
    runs = [invoke(cmd, manifests, env=env) for cmd in ("validate", "plan")]
    assert all(r.exit_code == 1 for r in runs)
    assert "spec.status: a value from ${VAR} is not allowed; use one of:" in runs[0].stderr
    # Not even its shape: no "remove the quotes" hint telling that it is a number.
    assert (
        "spec.dvr_duration: expected an integer, got a string (${VAR} always gives a string)"
        in (runs[0].stderr)
    )
    # Too short to be masked as text (it would mask ordinary words), and still never quoted.
    runs.append(invoke("validate", manifests, env={**env, "SHOW_STATUS": "Qz9"}))
    assert runs[-1].exit_code == 1 and "a value from ${VAR}" in runs[-1].stderr
    _nowhere(runs, "SecretProj111", "7200", "Qz9")


def test_the_simulator_request_log_hides_passphrases(
    sim: Any, invoke: Any, manifests: Path
) -> None:
    (manifests / "srt.yaml").write_text(
        "kind: Stream\nname: srt-cam\nspec:\n  srt_passphrase: ${SRT}\n"
    )
    assert invoke("apply", "--yes", manifests, env={"SRT": PASSPHRASE}).exit_code == 0
    from reconciler.simulator import Simulator

    assert isinstance(sim, Simulator)
    answer = sim.handle("GET", "/_simulator/requests", {}, b"")
    log = answer.body.decode()
    assert '"srt_passphrase": "***"' in log
    assert PASSPHRASE not in log and PASSPHRASE not in json.dumps(sim.requests())
