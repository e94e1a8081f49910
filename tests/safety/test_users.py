"""Reading active users: formats, refusals with clear messages, the URL path and relative files."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from safety_factories import cleanup_policy, desired_state

from reconciler.errors import ConfigError
from reconciler.model.desired import Source, UsersSource
from reconciler.safety.users import HttpAnswer, read_active_users, read_policy_users


def test_file_with_comments_and_blank_lines(tmp_path: Path) -> None:
    users = tmp_path / "users.txt"
    users.write_text("# active on 2026-11-25\n17\n\n  42  # moderator\n17\n")
    assert read_active_users(UsersSource(file=str(users))) == frozenset({17, 42})


def test_json_list_file(tmp_path: Path) -> None:
    users = tmp_path / "users.json"
    users.write_text('[1, 2, "3"]')
    assert read_active_users(UsersSource(file=str(users))) == frozenset({1, 2, 3})


def test_an_empty_list_is_refused_because_it_would_select_everyone(tmp_path: Path) -> None:
    users = tmp_path / "users.txt"
    users.write_text("# nobody yet\n\n")
    with pytest.raises(ConfigError) as error:
        read_active_users(UsersSource(file=str(users)))
    assert str(error.value) == (
        f"active users file {users}: holds no user id; an empty list of active users would "
        "select every stream, so the cleanup is refused"
    )
    users.write_text("[]")
    with pytest.raises(ConfigError, match="would select every stream"):
        read_active_users(UsersSource(file=str(users)))


def test_a_malformed_line_is_named(tmp_path: Path) -> None:
    users = tmp_path / "users.txt"
    users.write_text("1\n2\nbob\n")
    with pytest.raises(ConfigError) as error:
        read_active_users(UsersSource(file=str(users)))
    assert str(error.value) == (
        f"active users file {users}:3: 'bob' is not a user id (one integer per line; # starts a "
        "comment)"
    )


def test_malformed_json_is_named(tmp_path: Path) -> None:
    users = tmp_path / "users.json"
    users.write_text('[1,\n2,\n"x"]')
    with pytest.raises(ConfigError, match=r"item 2 of the JSON list \(\"x\"\) is not a user id"):
        read_active_users(UsersSource(file=str(users)))
    users.write_text("[1,\n2,,]")
    with pytest.raises(ConfigError, match=r"users.json:2: not valid JSON"):
        read_active_users(UsersSource(file=str(users)))
    users.write_text('{"users": [1]}')
    with pytest.raises(ConfigError, match="must be a list of user ids"):
        read_active_users(UsersSource(file=str(users)))


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    missing = tmp_path / "nope.txt"
    with pytest.raises(ConfigError) as error:
        read_active_users(UsersSource(file=str(missing)))
    assert str(error.value) == (
        f"active users file {missing}: cannot be read (No such file or directory); nothing is "
        "deleted"
    )


def test_url_answers_are_parsed_and_failures_refused() -> None:
    seen: list[tuple[str, float]] = []

    def ok(url: str, timeout: float) -> HttpAnswer:
        seen.append((url, timeout))
        return HttpAnswer(200, "5\n6\n")

    source = UsersSource(url="https://users.example/active?token=hunter22secret")
    assert read_active_users(source, http_get=ok) == frozenset({5, 6})
    assert seen == [("https://users.example/active?token=hunter22secret", 10.0)]

    with pytest.raises(ConfigError) as error:
        read_active_users(source, http_get=lambda url, timeout: HttpAnswer(503, "down"))
    assert "answered HTTP 503; nothing is deleted" in str(error.value)
    assert "hunter22secret" not in str(error.value)

    def broken(url: str, timeout: float) -> HttpAnswer:
        raise TimeoutError("timed out")

    with pytest.raises(ConfigError, match=r"cannot be read \(TimeoutError: timed out\)"):
        read_active_users(source, http_get=broken)
    with pytest.raises(ConfigError, match="only http:// and https://"):
        read_active_users(UsersSource(url="ftp://x/users"))


def test_policy_files_are_read_relative_to_their_manifest(tmp_path: Path) -> None:
    (tmp_path / "users.txt").write_text("7\n")
    policy = replace(
        cleanup_policy(users_file="users.txt"), source=Source(str(tmp_path / "cleanup.yaml"), 3)
    )
    other = cleanup_policy("no-users")
    assert read_policy_users(desired_state(cleanups=[policy, other])) == {"stale": frozenset({7})}
    (tmp_path / "users.txt").write_text("")
    with pytest.raises(ConfigError) as error:
        read_policy_users(desired_state(cleanups=[policy]))
    assert str(error.value).startswith(f"{tmp_path / 'cleanup.yaml'}:3: Cleanup 'stale': active")


@pytest.fixture
def users_server() -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, body = (200, b"[11, 12]") if self.path == "/users" else (404, b"no")
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.port
def test_a_real_users_url_over_loopback(users_server: str) -> None:
    assert read_active_users(UsersSource(url=f"{users_server}/users")) == frozenset({11, 12})
    with pytest.raises(ConfigError, match="answered HTTP 404"):
        read_active_users(UsersSource(url=f"{users_server}/missing"))
