"""Delivers webhook payloads (POST JSON, once, no redelivery, as the platform does) to the
configured URL and/or an in-process sink, and keeps a log of every attempt with its result.

A failed delivery is logged, never raised. Knows nothing about the payloads' meaning.
"""

from __future__ import annotations

import threading
from typing import Any

import httpx

from reconciler.simulator.config import WebhookSink

Json = dict[str, Any]


class WebhookSender:
    def __init__(self, url: str | None, sink: WebhookSink | None, timeout: float = 2.0) -> None:
        self.url, self.sink = url, sink
        self._timeout = timeout
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()
        self._log: list[Json] = []

    def send(self, events: list[Json]) -> None:
        for payload in events:
            record: Json = {"payload": payload, "url": self.url, "delivered": False,
                            "status": None, "error": None}  # fmt: skip
            if self.sink is not None:
                try:
                    self.sink(payload)
                    record["delivered"] = True
                except Exception as err:  # a broken sink must not break the simulator
                    record["error"] = f"sink raised {type(err).__name__}: {err}"
            if self.url:
                self._post(payload, record)
            elif self.sink is None:
                record["error"] = "no webhook URL configured"
            with self._lock:
                self._log.append(record)

    def _post(self, payload: Json, record: Json) -> None:
        try:
            with self._lock:
                if self._client is None:
                    self._client = httpx.Client(timeout=self._timeout)
                client = self._client
            response = client.post(str(self.url), json=payload)
            record["status"] = response.status_code
            record["delivered"] = response.is_success
            if not response.is_success:
                record["error"] = f"receiver answered {response.status_code}"
        except Exception as err:  # unreachable, refused, bad URL: logged, never raised
            record["delivered"] = False
            record["error"] = f"{type(err).__name__}: {err}"

    def log(self) -> list[Json]:
        with self._lock:
            return [dict(r) for r in self._log]

    def clear(self) -> None:
        with self._lock:
            self._log.clear()

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None
