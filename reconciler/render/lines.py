"""The plan vocabulary shared by the text and markdown renderers: summaries, one line per
change (`+ stream studio-a`), detail lines (`field: before -> after`), one line per result.

Knows nothing of output formats beyond plain text: lines are raw (a value may hold a line break);
the formats make each one inert (`render.inert`).
"""

from __future__ import annotations

import json
from typing import Any

from reconciler.model.changes import Action, Change, ChangeResult, FieldDiff, Outcome, Plan, Report
from reconciler.model.live import ENTITY  # a create shows its user's part; our marker: JSON
from reconciler.model.marker import RESERVED_KEY, decode_entity_data, released_by_in
from reconciler.redact import MASK, SECRET_FIELDS, redact_value

CREATES = (Action.CREATE,)
UPDATES = (Action.UPDATE, Action.ADOPT, Action.ORPHAN)
DELETES = (Action.DELETE, Action.CLEANUP, Action.DELETE_RECORDING)
ACTIONS = (
    Action.ACTIVATE,
    Action.DEACTIVATE,
    Action.SET_STATUS,
    Action.START_RECORDING,
    Action.STOP_RECORDING,
)
SYMBOL = {**dict.fromkeys(CREATES, "+"), **dict.fromkeys(UPDATES, "~")}
SYMBOL |= {**dict.fromkeys(DELETES, "-"), **dict.fromkeys(ACTIONS, ">")}
COLOR = {"+": "green", "~": "yellow", "-": "red", ">": "cyan", "!": "magenta"}
MARKER_PATH = f"/{ENTITY}/{RESERVED_KEY}"
LOCK_REMOVED = (
    "The apply lock was removed while this run held it (reconciler unlock?): another run may "
    "have written beside it; run plan to see where the account stands."
)
MARKER_WORDS = {
    "add": "written",
    "remove": "removed",
    "replace": "updated",
    "release": "removed, a release record left",  # an orphan (docs/planning.md)
}


# --- summaries ----------------------------------------------------------------------------------


def plan_summary(plan: Plan) -> dict[str, int]:
    pending = plan.pending
    return {
        "create": sum(1 for c in pending if c.action in CREATES),
        "update": sum(1 for c in pending if c.action in UPDATES),
        "delete": sum(1 for c in pending if c.action in DELETES),
        "actions": sum(1 for c in pending if c.action in ACTIONS),
        "held": len(plan.held),
        "total": len(plan.changes),
    }


def plan_summary_line(plan: Plan) -> str:
    if plan.is_empty:
        return "No changes. The account matches the manifests."
    s = plan_summary(plan)
    return (
        f"Plan: {s['create']} to create, {s['update']} to update, {s['delete']} to delete, "
        f"{s['actions']} {'action' if s['actions'] == 1 else 'actions'}, {s['held']} held."
    )


def report_summary(report: Report) -> dict[str, int]:
    return {outcome.value: report.count(outcome) for outcome in Outcome}


def report_summary_line(report: Report) -> str:
    s = report_summary(report)
    line = (
        f"Apply: {s['done']} done, {s['failed']} failed, {s['skipped']} skipped, {s['held']} held."
    )
    if report.stopped:
        return f"{line} Stopped early: {report.stopped}. The next run does the rest."
    if report.lock_removed:
        return f"{line} {LOCK_REMOVED}"
    if report.exit_code == 0:
        return f"{line} The account matches the manifests."
    if report.exit_code == 3:
        return f"{line} Held changes wait for a later run."
    return f"{line} The next run retries what failed."


# --- one change ---------------------------------------------------------------------------------


def describe(change: Change) -> str:
    """`stream studio-a (id 320423)` / `broadcast weekly-show`."""
    where = f" (id {change.target_id})" if change.target_id is not None else ""
    title = f' "{change.title}"' if change.title and change.title != change.key else ""
    return f"{change.resource} {change.key}{title}{where}"


def headline(change: Change, *, verb: bool = False) -> str:
    """`+ stream a`, `~ stream a (id 1)`, `> stream a (id 1): activate`; `verb` names any action."""
    symbol = SYMBOL.get(change.action, "~")
    tail = ""
    if change.action in ACTIONS:
        tail = f": {_action_words(change)}"
    elif verb or change.action in (
        Action.ADOPT,
        Action.ORPHAN,
        Action.CLEANUP,
        Action.DELETE_RECORDING,
    ):
        tail = f": {change.action.value.replace('_', ' ')}"
    return f"{symbol} {describe(change)}{tail}"


def _action_words(change: Change) -> str:
    if change.action is Action.SET_STATUS:
        status = change.body.get("status")
        before = next((d.before for d in change.diffs if d.path == "/status"), None)
        if before is not None:
            return f"status {before} -> {status}"
        return f"status -> {status}"
    return change.action.value.replace("_", " ")


def _value(value: Any) -> str:
    return json.dumps(redact_value(value), ensure_ascii=False, sort_keys=True)


def masked(diff: FieldDiff) -> FieldDiff:
    """A diff of a secret field (`/srt_passphrase`) shows neither value."""
    field = diff.path.rstrip("/").rsplit("/", 1)[-1].lower()
    if field not in SECRET_FIELDS:
        return diff
    before = MASK if diff.before not in (None, "") else diff.before
    after = MASK if diff.after not in (None, "") else diff.after
    return FieldDiff(op=diff.op, path=diff.path, before=before, after=after)


def users_diffs(diffs: tuple[FieldDiff, ...]) -> tuple[list[FieldDiff], str | None]:
    """The diffs of what the user declares, and how our marker in `client_entity_data` changes
    (its entries are our bookkeeping: one line in text, every diff in the JSON plan)."""
    shown: list[FieldDiff] = []
    marker_ops: list[str] = []
    for diff in diffs:
        if diff.path == MARKER_PATH and released_by_in(diff.after) is not None:
            marker_ops.append("release")
        elif diff.path == MARKER_PATH or diff.path.startswith(MARKER_PATH + "/"):
            marker_ops.append("replace" if diff.path != MARKER_PATH else diff.op)
        elif diff.path == f"/{ENTITY}":  # the whole value replaced: part ours, part theirs
            before, after = _without_marker(diff.before), _without_marker(diff.after)
            if _has_marker(diff.before) or _has_marker(diff.after):
                marker_ops.append(_op(_has_marker(diff.before), _has_marker(diff.after)))
            if before != after:
                shown.append(
                    FieldDiff(_op(before is not None, after is not None), diff.path, before, after)
                )
        else:
            shown.append(diff)
    if not marker_ops:
        return shown, None
    return shown, marker_ops[0] if len(set(marker_ops)) == 1 else "replace"


def _has_marker(value: Any) -> bool:
    return isinstance(value, dict) and RESERVED_KEY in value


def _without_marker(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    rest = {k: v for k, v in value.items() if k != RESERVED_KEY}
    return rest or None


def _op(before: bool, after: bool) -> str:
    return "replace" if before and after else "add" if after else "remove"


def detail_lines(change: Change) -> list[str]:
    """Indented lines under the headline: fields of a create, `field: before -> after` diffs."""
    lines: list[str] = []
    if change.action is Action.CREATE:
        for name, value in change.body.items():
            if name == ENTITY:
                value = decode_entity_data(value if isinstance(value, str) else None).user_data
                if not value:
                    continue
            lines.append(f"{name}: {_value(value)}")
    elif change.action not in ACTIONS or len(change.diffs) > 1:
        diffs, marker_op = users_diffs(change.diffs)
        for diff in map(masked, diffs):
            name = diff.path.lstrip("/").replace("/", ".")
            if diff.op == "add":
                lines.append(f"{name}: (unset) -> {_value(diff.after)}")
            elif diff.op == "remove":
                lines.append(f"{name}: {_value(diff.before)} -> (removed)")
            else:
                lines.append(f"{name}: {_value(diff.before)} -> {_value(diff.after)}")
        if marker_op is not None:
            lines.append(f"{ENTITY}.{RESERVED_KEY}: {MARKER_WORDS[marker_op]} (our marker)")
    # A create lists its streams here; an update already shows them in its `/streams` diff.
    shown_as_diff = change.action is not Action.CREATE and any(
        d.path == "/streams" for d in change.diffs
    )
    if change.stream_refs and not shown_as_diff:
        lines.append(f"streams: {', '.join(change.stream_refs)}")
    if change.reason:
        lines.append(f"# {change.reason}")
    return lines


def result_line(result: ChangeResult) -> str:
    change = result.change
    head = headline(change, verb=result.outcome is not Outcome.DONE)
    if change.action is Action.CREATE and result.object_id is not None:
        head += f" -> id {result.object_id}"
    label = result.outcome.value if result.outcome is not Outcome.FAILED else "FAILED"
    detail = f": {result.detail}" if result.detail else ""
    return f"{label:<8} {head}{detail}"
