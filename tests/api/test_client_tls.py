"""TLS: an https base URL verifies the server's certificate (the CA bundle, or SSL_CERT_FILE);
a plain-http one never loads certificates (nothing there is ever verified)."""

from __future__ import annotations

import json
import shutil
import ssl
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from reconciler.api.client import ClientSettings, StreamingClient
from reconciler.errors import Unreachable

pytestmark = pytest.mark.port

KEY = "test-key-0123456789"
OBJECTS = 60  # three pages of 25: the sweep's later pages go out on its page threads


class _Pages(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        page = int(parse_qs(urlsplit(self.path).query)["page"][0])
        ids = range((page - 1) * 25 + 1, min(page * 25, OBJECTS) + 1)
        body = json.dumps([{"id": i, "name": f"s{i}"} for i in ids]).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (openssl's command line makes it)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl command line is not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.fixture
def https_url(certificate: tuple[Path, Path]) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Pages)
    server.daemon_threads = True
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02})
    thread.start()
    yield f"https://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


def _client(url: str) -> StreamingClient:
    settings = ClientSettings(rate_limit=None, retries=0, concurrency=8)
    return StreamingClient(url, KEY, settings=settings)


def test_an_https_url_refuses_a_certificate_nobody_vouches_for(https_url: str) -> None:
    with _client(https_url) as api, pytest.raises(Unreachable, match="could not connect"):
        api.list_streams()


def test_an_https_url_trusts_the_ca_file_of_the_environment(
    https_url: str, certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))
    with _client(https_url) as api:
        assert [s["id"] for s in api.list_streams()] == list(range(1, OBJECTS + 1))


def test_a_plain_http_url_loads_no_certificates(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loading the CA bundle costs ~40 ms of CPU at every start; over plain http nothing is ever
    verified with it (a proxy's own TLS, if any, is httpcore's business)."""
    loaded: list[Any] = []
    real = ssl.SSLContext.load_verify_locations

    def spy(self: ssl.SSLContext, *args: Any, **kwargs: Any) -> None:
        loaded.append(args or kwargs)
        real(self, *args, **kwargs)

    monkeypatch.setattr(ssl.SSLContext, "load_verify_locations", spy)
    with _client("http://127.0.0.1:9"):
        pass
    assert loaded == []
    with _client("https://api.example.test"):
        pass
    assert loaded  # the spy does see the CA bundle an https client loads
