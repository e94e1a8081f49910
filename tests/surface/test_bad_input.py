"""Bad input a user can give: manifests, environment values, base URLs. Always one clear
message on stderr, exit 1 (click's usage errors: 2), no traceback and no request."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

BOMB = "".join(
    f"{n}: &{n} [{', '.join([f'*{p}'] * 9) if p else ', '.join(['x'] * 9)}]\n"
    for p, n in zip(["", *"abcdefgh"], "abcdefghi", strict=True)
)


def _write(tmp_path: Path, name: str, content: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


def _directory(tmp_path: Path, *names: str) -> Path:
    path = tmp_path / "d"
    path.mkdir()
    for name in names:
        (path / name).write_text("kind: Settings\nname: s\n")
    return path


BAD_MANIFESTS: dict[str, tuple[Any, str]] = {
    "binary file": (
        lambda t: _write(t, "b.yaml", bytes(range(256)) * 8),
        "b.yaml:2:118: not UTF-8: byte 0x80",
    ),
    "non-UTF-8 text": (
        lambda t: _write(t, "l.yaml", b"kind: Stream\nname: a\nspec:\n  name: \xe9t\xe9\n"),
        "l.yaml:4:9: not UTF-8: byte 0xe9",
    ),
    "YAML bomb": (
        lambda t: _write(t, "bomb.yaml", (BOMB + "kind: Settings\nname: s\n").encode()),
        "(YAML aliases?)",
    ),
    "empty directory": (lambda t: (t / "empty").mkdir() or t / "empty", "no *.yaml or *.yml"),
    "directory without YAML": (
        lambda t: (t / "d").mkdir() or (_write(t, "d/notes.txt", b"hello") and t / "d"),
        "no *.yaml or *.yml files found",
    ),
    "a YAML syntax error": (lambda t: _write(t, "s.yaml", b"kind: [Stream\n"), "s.yaml:"),
}


@pytest.mark.parametrize("command", ["validate", "plan", "apply"])
@pytest.mark.parametrize("case", list(BAD_MANIFESTS))
def test_bad_manifests_are_one_clear_message_and_no_request(
    sim: Any, invoke: Any, tmp_path: Path, command: str, case: str
) -> None:
    make, expected = BAD_MANIFESTS[case]
    path = make(tmp_path)
    started = time.monotonic()
    result = invoke(*([command, "--yes"] if command == "apply" else [command]), path)
    assert result.exit_code == 1, result.output
    assert expected in result.stderr, result.stderr
    assert result.stderr.endswith("found\n") and result.stdout == ""
    assert sim.requests() == []
    assert time.monotonic() - started < 5


def test_a_missing_path_is_a_usage_error(sim: Any, invoke: Any, tmp_path: Path) -> None:
    for command in ("validate", "plan", "apply", "status", "unlock", "export"):
        result = invoke(command, tmp_path / "nope")
        assert result.exit_code == 2
        assert "does not exist" in result.stderr
    assert sim.requests() == []


def test_an_unreadable_file_is_named(
    sim: Any, invoke: Any, manifests: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """(Tests run as root, where chmod 000 does not deny: the refusal is simulated.)"""
    locked = manifests / "streams.yaml"
    real = Path.read_bytes

    def read_bytes(self: Path) -> bytes:
        if self == locked:
            raise PermissionError(13, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    result = invoke("plan", manifests)
    assert result.exit_code == 1
    assert f"{locked}: cannot read: Permission denied" in result.stderr
    assert sim.requests() == []


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("RECONCILER_RATE_LIMIT", "abc"),
        ("RECONCILER_RATE_LIMIT", "-3"),
        ("RECONCILER_TIMEOUT", "-1"),
        ("RECONCILER_TIMEOUT", "inf"),
        ("RECONCILER_CONCURRENCY", "0"),
        ("RECONCILER_RETRIES", "many"),
        ("RECONCILER_LOG", "verbose"),
    ],
)
def test_bad_environment_values_are_named(
    sim: Any, invoke: Any, manifests: Path, variable: str, value: str
) -> None:
    result = invoke("plan", manifests, env={variable: value})
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: {variable}={value!r}: "), result.stderr
    assert sim.requests() == []


@pytest.mark.parametrize(
    "url", ["not a url", "ftp://example.com", "http://[::1", "http://host:abc", "https://"]
)
def test_a_malformed_base_url_is_named(sim: Any, invoke: Any, manifests: Path, url: str) -> None:
    for command in ("plan", "status", "export"):
        result = invoke(command, manifests, env={"GCORE_BASE_URL": url})
        assert result.exit_code == 1
        assert result.stderr == (
            f"error: base URL {url!r} is not an http(s) URL: check GCORE_BASE_URL "
            "(default https://api.gcore.com)\n"
        )
    assert sim.requests() == []


@pytest.mark.port
def test_an_unreachable_port_fails_quickly_with_retries_0(invoke: Any, manifests: Path) -> None:
    import socket

    invoke.transport = None  # the real network
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    started = time.monotonic()
    result = invoke(
        "plan", "--retries", "0", manifests, env={"GCORE_BASE_URL": f"http://127.0.0.1:{port}"}
    )
    assert result.exit_code == 1
    assert result.stderr == (
        "error: GET /streaming/streams: could not connect after 1 attempt; "
        "check GCORE_BASE_URL and the network\n"
    )
    assert time.monotonic() - started < 3


def test_simulator_followed_by_a_missing_directory_names_it(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from reconciler.cli import commands as cli

    missing = f"{tmp_path}/typo/"
    result = CliRunner().invoke(cli.main, ["plan", "--simulator", missing])
    assert result.exit_code == 1
    assert result.stderr == f"{missing}: no such file or directory\n1 problem found\n"
    assert not (tmp_path / "typo").exists()


def test_export_to_an_unwritable_file_is_a_clear_error(
    invoke: Any, manifests: Path, tmp_path: Path
) -> None:
    target = tmp_path / "no-such-dir" / "export.yaml"
    result = invoke("export", "-f", target, manifests)
    assert result.exit_code == 1
    assert result.stderr == f"error: --file {target}: cannot write it (No such file or directory)\n"
