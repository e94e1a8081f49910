"""The answer to one request (`Response`), as every part of the simulator hands it around.

Knows no route, no state and no transport: the bottom of the simulator's own layers.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

JSON_TYPE = {"content-type": "application/json"}


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False  # the server committed, then "loses" the answer (drop_create fault)


def json_response(status: int, value: object, headers: Mapping[str, str] | None = None) -> Response:
    body = json.dumps(value).encode()
    return Response(status, body, {**JSON_TYPE, **(headers or {})})
