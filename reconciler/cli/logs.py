"""Log lines on stderr, redacted (invariant 10): the library's records as text by default, or with
`--log-format json` one JSON object per event (changes started/done/failed/held, retries,
rate-limit waits, errors) and a final summary a cron job can alert on.

Knows logging and the plan/report values; not click, not the commands.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import click

from reconciler.errors import ConfigError, ManifestError, PlanError, ReconcilerError
from reconciler.model.changes import Change, ChangeResult, Outcome, Plan, Report
from reconciler.redact import redact_value
from reconciler.render.inert import terminal_line

if TYPE_CHECKING:
    from reconciler.api.transport import ClientStats

ENV_LOG = "RECONCILER_LOG"
LOGGER = "reconciler"
EVENTS = logging.getLogger("reconciler.events")  # the CLI's own events: results, summary


class LogFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


class RedactingHandler(logging.Handler):
    """Library log records on stderr, redacted (invariant 10: logs are an output too)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            click.echo(terminal_line(self.format(record)), err=True)
        except Exception:  # a log line must never break a run
            self.handleError(record)


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, event, logger, the record's fields, message.

    A record names its event and fields through `extra={"event": ..., "fields": {...}}`, and the
    change it is about through `extra={"change": change}`; any other record is a `log` event.
    """

    def format(self, record: logging.LogRecord) -> str:
        event: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "event": getattr(record, "event", "log"),
            "logger": record.name,
        }
        change = getattr(record, "change", None)
        if isinstance(change, Change):
            event.update(change_fields(change))
        fields = getattr(record, "fields", None)
        if isinstance(fields, Mapping):
            event.update(fields)
        event["message"] = record.getMessage()
        if record.exc_info:
            event["exception"] = self.formatException(record.exc_info)
        return json.dumps(redact_value(event), ensure_ascii=False, default=str)


def change_fields(change: Change) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "change": change.id,
        "resource": str(change.resource),
        "key": change.key,
        "action": str(change.action),
        "target_id": change.target_id,
        "reason": change.reason,
    }
    if change.held is not None:
        fields["held"] = change.held
    return fields


def configure_logging(log_format: LogFormat = LogFormat.TEXT) -> None:
    """One redacting handler on the `reconciler` logger at RECONCILER_LOG's level (default
    warning); in JSON at info at least, so that every event is written."""
    logger = logging.getLogger(LOGGER)
    level_name = os.environ.get(ENV_LOG, "warning").strip().upper() or "WARNING"
    level = logging.getLevelName(level_name)
    if not isinstance(level, int):
        raise ConfigError(f"{ENV_LOG}={level_name.lower()!r}: use debug, info, warning or error")
    for handler in [h for h in logger.handlers if isinstance(h, RedactingHandler)]:
        logger.removeHandler(handler)
    handler = RedactingHandler()
    if log_format is LogFormat.JSON:
        handler.setFormatter(JsonFormatter())
        level = min(level, logging.INFO)
        EVENTS.setLevel(logging.NOTSET)
    else:
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        EVENTS.setLevel(logging.CRITICAL + 1)  # text output says it all already
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False


class RunEvents:
    """The events of one command run: results as they come, errors, and the closing summary.
    The command fills in what it learns (plan, report, client stats) as it goes."""

    def __init__(self, command: str, log_format: LogFormat) -> None:
        self.command = command
        self.json = log_format is LogFormat.JSON
        self.plan: Plan | None = None
        self.report: Report | None = None
        self.stats: Callable[[], ClientStats] | None = None  # the client's counters
        self._results = 0

    def result(self, result: ChangeResult) -> None:
        self._results += 1
        level = logging.WARNING if result.outcome is Outcome.FAILED else logging.INFO
        fields: dict[str, Any] = {"outcome": str(result.outcome), "detail": result.detail}
        if result.object_id is not None:
            fields["object_id"] = result.object_id
        EVENTS.log(
            level,
            "%s %s",
            result.outcome,
            result.change.id,
            extra={"event": f"change.{result.outcome}", "change": result.change, "fields": fields},
        )

    def finished(self, report: Report) -> None:
        """The run's report: results not reported as they came (nothing ran) are reported now."""
        self.report = report
        if not self._results:
            for result in report.results:
                self.result(result)

    def replanned(self, plan: Plan) -> None:
        EVENTS.info(
            "the account changed since the plan shown; applying the fresh plan",
            extra={"event": "replan", "fields": {"changes": len(plan.changes)}},
        )

    def error(self, error: ReconcilerError) -> None:
        fields: dict[str, Any] = {"exit_code": error.exit_code}
        if isinstance(error, ManifestError):
            fields["problems"] = [vars(p) for p in error.problems]
            message = f"{len(error.problems)} problem(s) found"
        elif isinstance(error, PlanError):
            fields["conflicts"] = list(error.problems)
            message = f"{len(error.problems)} conflict(s) between the manifests and the account"
        else:
            message = str(error)
        _error_event(message, fields)

    def stopped(self, message: str, exit_code: int) -> None:
        """The run was stopped by a signal."""
        _error_event(message, {"exit_code": exit_code})

    def summary(self, exit_code: int) -> None:
        EVENTS.info(
            "%s exited %d",
            self.command,
            exit_code,
            extra={"event": "summary", "fields": self.summary_fields(exit_code)},
        )

    def summary_fields(self, exit_code: int) -> dict[str, Any]:
        fields: dict[str, Any] = {"command": self.command, "exit_code": exit_code}
        if self.plan is not None:
            fields["changes"] = len(self.plan.changes)
            fields["pending"] = len(self.plan.pending)
            fields["held"] = len(self.plan.held)
        if self.report is not None:
            fields.update({str(o): self.report.count(o) for o in Outcome})
        if self.stats is not None:
            stats = self.stats()
            fields["requests"] = stats.total
            fields["retries"] = stats.retries
            fields["rate_limited"] = stats.rate_limited
            fields["waited_seconds"] = round(stats.waited, 3)
            if stats.slowed_to is not None:  # requests/s the 429s slowed the client down to
                fields["slowed_to"] = stats.slowed_to
        return fields


def _error_event(message: str, fields: dict[str, Any]) -> None:
    """The JSON `error` event: a failure (`RunEvents.error`) or a stop (`RunEvents.stopped`)."""
    EVENTS.error("%s", message, extra={"event": "error", "fields": fields})
