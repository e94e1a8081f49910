"""`reconciler validate` runs offline without the secrets (the PR recipe's first step): an unset
`${VAR}` is a warning naming the variable, a check that needs its value is skipped, and
everything else is still checked. `plan`, `apply` and `export` need the values."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cli_harness import Invoke
from manifest_support import Write

from reconciler.manifest import check_manifests, load_manifests

SECRETS = """\
kind: Settings
name: prod
---
kind: Stream
name: cam
spec:
  srt_passphrase: ${PW}
  uri: "rtmp://ingest.example/live/${YT_KEY}"
---
kind: Cleanup
name: stale
spec:
  idle_for: 30d
  name_pattern: ${PATTERN}
"""
WARNINGS = (
    "m.yaml:7: spec.srt_passphrase: ${PW} is not set (needed by plan/apply)\n"
    "m.yaml:8: spec.uri: ${YT_KEY} is not set (needed by plan/apply)\n"
    "m.yaml:14: spec.name_pattern: ${PATTERN} is not set (needed by plan/apply)\n"
)
UNSET = {"PW": None, "YT_KEY": None, "PATTERN": None}


@pytest.fixture
def reconcile(sim: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Invoke:
    monkeypatch.chdir(tmp_path)
    return Invoke(sim)


def test_validate_without_the_secrets_warns_and_passes(reconcile: Invoke) -> None:
    Path("m.yaml").write_text(SECRETS)
    result = reconcile("validate", "m.yaml", env=UNSET)
    assert result.exit_code == 0, result.output
    # `${PW}` is 5 characters: the passphrase rule (10-80) would fail on it; it is skipped.
    assert result.stderr == WARNINGS
    assert result.stdout == "1 stream, 0 broadcasts, 1 cleanup policy: valid\n"


def test_validate_still_reports_everything_else_with_the_warnings(reconcile: Invoke) -> None:
    Path("m.yaml").write_text(
        SECRETS.replace("  uri:", "  dvr_duration: ${DVR}\n  activ: true\n  uri:")
    )
    result = reconcile("validate", "m.yaml", env={**UNSET, "DVR": None})
    assert result.exit_code == 1
    assert result.stderr == (
        "m.yaml:7: spec.srt_passphrase: ${PW} is not set (needed by plan/apply)\n"
        "m.yaml:8: spec.dvr_duration: ${DVR} is not set (needed by plan/apply)\n"
        # A type is checked without the value: ${VAR} always gives a string.
        "m.yaml:8: spec.dvr_duration: expected an integer, got a string (${VAR} always gives a "
        "string)\n"
        "m.yaml:9: spec.activ: unknown field; did you mean 'active'?\n"
        "m.yaml:10: spec.uri: ${YT_KEY} is not set (needed by plan/apply)\n"
        "m.yaml:16: spec.name_pattern: ${PATTERN} is not set (needed by plan/apply)\n"
        "2 problems found\n"
    )


def test_a_misspelled_field_holding_an_unset_variable_is_still_unknown(
    reconcile: Invoke,
) -> None:
    """No value of the variable would make the field known: validate (the PR check, without
    the secrets) fails on it instead of passing it to the apply job."""
    Path("m.yaml").write_text(SECRETS.replace("  srt_passphrase:", "  srt_pasphrase:"))
    result = reconcile("validate", "m.yaml", env=UNSET)
    assert result.exit_code == 1
    assert "m.yaml:7: spec.srt_pasphrase: unknown field; did you mean 'srt_passphrase'?\n" in (
        result.stderr
    )
    assert result.stderr.endswith("1 problem found\n")


def test_plan_reports_a_wrong_type_behind_an_unset_variable(reconcile: Invoke) -> None:
    """`dvr_duration: ${D}` is an error either way (docs/manifests.md): plan names the missing
    variable and the type together, not the type only once the variable is set."""
    Path("m.yaml").write_text(SECRETS.replace("  uri:", "  dvr_duration: ${DVR}\n  uri:"))
    result = reconcile("plan", "m.yaml", env={"PW": "a-long-passphrase", "YT_KEY": "k",
                                              "PATTERN": "cam-*", "DVR": None})  # fmt: skip
    assert result.exit_code == 1
    assert result.stderr.startswith(
        "m.yaml:8: spec.dvr_duration: environment variable DVR is not set; export it (or write "
        "$${DVR} for a literal '${DVR}')\n"
        "m.yaml:8: spec.dvr_duration: expected an integer, got a string (${VAR} always gives a "
        "string)\n"
    ), result.stderr


def test_validate_checks_a_value_once_it_is_set(reconcile: Invoke) -> None:
    Path("m.yaml").write_text(SECRETS)
    result = reconcile("validate", "m.yaml", env={**UNSET, "PW": "short"})
    assert result.exit_code == 1
    assert (
        "m.yaml:7: spec.srt_passphrase: must be 10 to 80 printable ASCII characters without "
        "spaces (got 5 characters); use null to clear it\n" in result.stderr
    )
    assert "short" not in result.output


@pytest.mark.parametrize("command", ["plan", "apply", "export"])
def test_plan_apply_and_export_need_the_values(reconcile: Invoke, sim: Any, command: str) -> None:
    Path("m.yaml").write_text(SECRETS)
    args = [command, "m.yaml"] + (["--yes"] if command == "apply" else [])
    result = reconcile(*args, env=UNSET)
    assert result.exit_code == 1
    assert result.stderr.startswith(
        "m.yaml:7: spec.srt_passphrase: environment variable PW is not set; export it (or write "
        "$${PW} for a literal '${PW}')\n"
    )
    assert result.stderr.endswith("3 problems found\n")
    assert sim.requests() == []


def test_a_value_from_a_set_variable_is_used_as_the_value(write: Write) -> None:
    path = write(
        "kind: Settings\nname: t\n---\nkind: Cleanup\nname: c\nspec:\n  idle_for: ${IDLE}\n"
    )
    (policy,) = load_manifests([path], environ={"IDLE": "30d"}).cleanups
    assert policy.idle_for == timedelta(days=30)
    checked = check_manifests([path], environ={"IDLE": "30d"})
    assert (checked.warnings, len(checked.state.cleanups)) == ((), 1)


def test_the_summary_counts_documents_whose_stream_reference_is_unset(reconcile: Invoke) -> None:
    Path("m.yaml").write_text(
        "kind: Settings\nname: t\n---\nkind: Stream\nname: a\n---\n"
        'kind: Broadcast\nname: show\nspec:\n  streams: ["${STREAM}"]\n'
    )
    result = reconcile("validate", "m.yaml", env={"STREAM": None})
    assert (result.exit_code, result.stdout) == (
        0,
        "1 stream, 1 broadcast, 0 cleanup policies: valid\n",
    )
    assert (
        result.stderr == "m.yaml:10: spec.streams[0]: ${STREAM} is not set (needed by plan/apply)\n"
    )
