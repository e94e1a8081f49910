"""An httpx transport that hands requests straight to a `Simulator` (no socket), for fast tests.

A dropped create (fault) surfaces as `httpx.ReadTimeout`, as a lost answer would on a network.
Knows the simulator only as a `Handler` (below `core`, which imports it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

import httpx

from reconciler.simulator.response import Response


class Handler(Protocol):
    """What the transport needs of the `Simulator`: its request handler."""

    def handle(
        self, method: str, target: str, headers: Mapping[str, str], body: bytes
    ) -> Response: ...


class SimulatorTransport(httpx.BaseTransport):
    def __init__(self, simulator: Handler) -> None:
        self._simulator = simulator

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        target = request.url.raw_path.decode("ascii")
        response = self._simulator.handle(request.method, target, dict(request.headers), body)
        if response.drop:
            raise httpx.ReadTimeout("simulated: the response was lost", request=request)
        return httpx.Response(
            response.status, headers=response.headers, content=response.body, request=request
        )
