"""An httpx transport that hands requests straight to a `Simulator` (no socket), for fast tests.

A dropped create (fault) surfaces as `httpx.ReadTimeout`, as a lost answer would on a network.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx

if TYPE_CHECKING:
    from reconciler.simulator.core import Simulator


class SimulatorTransport(httpx.BaseTransport):
    def __init__(self, simulator: Simulator) -> None:
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
