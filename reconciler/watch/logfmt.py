"""`--log-format json`: one JSON object per log line (time, level, logger, message), the message
redacted as every output is. Knows nothing of where the lines go."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

from reconciler.redact import redact_text


class JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        value = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact_text(record.getMessage()),
        }
        return json.dumps(value, ensure_ascii=False)
