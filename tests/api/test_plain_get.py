"""The plain GET behind a Cleanup's active-users URL: bounded in time and size like the client."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator

import pytest

from reconciler.api.plain import get_text
from reconciler.errors import ConfigError, Unreachable
from reconciler.model.desired import UsersSource
from reconciler.safety.users import read_active_users
from tests.api.hostile import TrickleServer

pytestmark = pytest.mark.port


@pytest.fixture
def endless_server() -> Iterator[str]:
    """Answers every GET with an endless stream of digits and newlines (no Content-Length)."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()
            try:
                for _ in range(10_000):  # 640 MB at most: stops by itself
                    self.wfile.write(b"1234567\n" * 8192)
            except OSError:
                pass  # the client stopped reading: the point

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_trickling_users_url_fails_at_the_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    from reconciler.safety import users

    monkeypatch.setattr(users, "URL_TIMEOUT", 0.5)
    with TrickleServer(at_once=0, gap=0.2) as server:
        with pytest.raises(Unreachable, match=r"no complete answer within 0\.5 s"):
            get_text(f"{server.url}/users", 0.5, max_bytes=1000)
        with pytest.raises(ConfigError, match=r"cannot be read \(no complete answer within"):
            read_active_users(UsersSource(url=f"{server.url}/users?token=hunter22"))


def test_an_endless_users_url_is_read_only_up_to_the_cap(endless_server: str) -> None:
    answer = get_text(f"{endless_server}/users", 10, max_bytes=1000)
    assert (answer.status, len(answer.text)) == (200, 1001)
    with pytest.raises(ConfigError, match="larger than 16777216 bytes"):
        read_active_users(UsersSource(url=f"{endless_server}/users"))
