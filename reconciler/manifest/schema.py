"""The JSON Schema of one manifest document, generated from the pydantic models (for editors).

`python -m reconciler.manifest > manifest.schema.json` writes it. Knows nothing of files.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import TypeAdapter

from reconciler.manifest.models import Document

SCHEMA_ID = "https://github.com/reconciler/reconciler/manifest.schema.json"


def manifest_json_schema() -> dict[str, Any]:
    """A draft 2020-12 schema accepting any one document (Settings, Stream, Broadcast, Cleanup)."""
    schema = TypeAdapter(Document).json_schema()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "reconciler manifest document",
        "description": (
            "One YAML document of a reconciler manifest set; `${VAR}` in strings is "
            "replaced from the environment when loading."
        ),
        **schema,
    }


def main() -> None:
    print(json.dumps(manifest_json_schema(), indent=2))
