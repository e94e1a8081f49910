"""Executes a `Plan` through the `StreamingAPI`: stages in lifecycle order (invariant 6), the
independent changes of a stage in parallel on one bounded pool, exactly one `ChangeResult` per
change, broadcast ownership recorded in our stream markers, and no duplicate creates (invariant 8).

Knows nothing of manifests, guards or output formats.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

from reconciler.api.protocol import StreamingAPI
from reconciler.apply_markers import Json, StreamBook, infer_set_name
from reconciler.changes import Action, Change, ChangeResult, Outcome, Plan, Report, Resource
from reconciler.errors import AmbiguousCreate, ReconcilerError
from reconciler.live import LiveState
from reconciler.ownership import decode_entity_data
from reconciler.redact import redact_text

FOUND_AFTER_AMBIGUOUS = "found after an ambiguous create"


class _Unresolved(ReconcilerError):
    """A change needs an id that this run does not have (its create did not happen)."""


def apply_plan(
    plan: Plan,
    api: StreamingAPI,
    live: LiveState,
    *,
    workers: int = 8,
    on_result: Callable[[ChangeResult], None] | None = None,
    set_name: str | None = None,
) -> Report:
    """Run every change once; a failure stops only the changes that depend on it.

    `set_name` scopes which streams are ours; by default it is read from the markers in the plan.
    """
    run = _Run(plan, api, live, set_name or infer_set_name(plan, live))
    results: dict[int, ChangeResult] = {}

    def finish(index: int, result: ChangeResult) -> None:
        results[index] = result
        if on_result is not None:
            on_result(result)

    by_stage: dict[int, list[int]] = defaultdict(list)
    for index, change in enumerate(plan.changes):
        by_stage[change.stage].append(index)

    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="apply") as pool:
        for stage in sorted(by_stage):
            waiting = list(by_stage[stage])
            running: dict[Future[ChangeResult], int] = {}
            while waiting or running:
                still_waiting: list[int] = []
                for index in waiting:
                    verdict = run.gate(index, results)
                    if verdict is None:
                        running[pool.submit(run.execute, index)] = index
                    elif isinstance(verdict, ChangeResult):
                        finish(index, verdict)
                    else:
                        still_waiting.append(index)
                waiting = still_waiting
                if not running:
                    # Nothing can make progress: a dependency on a later stage or a cycle.
                    for index in waiting:
                        finish(index, run.skipped(index, "depends on a change that runs later"))
                    break
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    finish(running.pop(future), future.result())
    return Report(results=tuple(results[i] for i in range(len(plan.changes))))


class _Run:
    def __init__(self, plan: Plan, api: StreamingAPI, live: LiveState, set_name: str | None):
        self.plan = plan
        self.api = api
        self.book = StreamBook(api, live, set_name)
        self.book.note_plan(plan)
        self.known_broadcasts = set(live.broadcast_by_id())
        self.broadcast_names = {
            int(b["id"]): str(b.get("name") or "") for b in live.broadcasts if "id" in b
        }
        self.live_broadcast_streams = {
            int(b["id"]): [int(s) for s in b.get("stream_ids") or []] for b in live.broadcasts
        }
        self.created: dict[tuple[Resource, str], int] = {}
        self.deps = _dependencies(plan)
        # Streams this plan deletes: no point writing their markers on the way down.
        self.doomed = {
            c.target_id
            for c in plan.changes
            if c.resource is Resource.STREAM
            and c.action in (Action.DELETE, Action.CLEANUP)
            and c.held is None
            and c.target_id is not None
        }

    # --- scheduling --------------------------------------------------------------------------

    def gate(self, index: int, results: Mapping[int, ChangeResult]) -> ChangeResult | str | None:
        """None: run it now; "wait": a dependency is still running; a result: held or skipped."""
        change = self.plan.changes[index]
        if change.held is not None:
            return ChangeResult(change, Outcome.HELD, detail=change.held)
        for dep in self.deps[index]:
            if dep not in results:
                return "wait"
            outcome = results[dep].outcome
            if outcome is not Outcome.DONE:
                cause = self.plan.changes[dep].id
                return self.skipped(index, f"{cause} {_past(outcome)}")
        return None

    def skipped(self, index: int, cause: str) -> ChangeResult:
        return ChangeResult(self.plan.changes[index], Outcome.SKIPPED, detail=cause)

    def execute(self, index: int) -> ChangeResult:
        change = self.plan.changes[index]
        try:
            object_id, detail = self._dispatch(change)
        except ReconcilerError as error:
            return ChangeResult(change, Outcome.FAILED, detail=redact_text(str(error)))
        except Exception as error:  # an unexpected bug must still give this change a result
            message = redact_text(f"internal error: {type(error).__name__}: {error}")
            return ChangeResult(change, Outcome.FAILED, detail=message)
        return ChangeResult(change, Outcome.DONE, detail=detail, object_id=object_id)

    # --- actions -----------------------------------------------------------------------------

    def _dispatch(self, change: Change) -> tuple[int | None, str]:
        action, resource = change.action, change.resource
        if action is Action.CREATE:
            if resource is Resource.STREAM:
                return self._create_stream(change)
            return self._create_broadcast(change)
        if action is Action.CLEANUP:
            target = self._target(change)
            self.api.delete_stream(target)
            return target, ""
        if action is Action.DELETE_RECORDING:
            target = self._target(change)
            self.api.delete_video(target)
            return target, ""
        if resource is Resource.STREAM:
            return self._stream_change(change), ""
        return self._broadcast_change(change), ""

    def _stream_change(self, change: Change) -> int:
        target, action = self._target(change), change.action
        if action is Action.START_RECORDING:
            self.api.start_recording(target)
        elif action is Action.STOP_RECORDING:
            self.api.stop_recording(target)
        elif action is Action.DELETE:
            self.api.delete_stream(target)
        elif action is Action.ORPHAN and "client_entity_data" not in change.body:
            self.book.edit_marker(target, lambda _marker: None)
        else:  # UPDATE, ADOPT, ORPHAN with a body, ACTIVATE, DEACTIVATE
            body = self.book.with_name(target, change.body)
            answer = self.api.update_stream(target, body)
            key = None if change.action is Action.ORPHAN else change.key
            self.book.note_stream(key, target, body, answer)
        return target

    def _broadcast_change(self, change: Change) -> int:
        target, action = self._target(change), change.action
        if action is Action.DELETE:
            self.api.delete_broadcast(target)
            self.book.forget_broadcast(change.key, target, skip=self.doomed)
            return target
        if action is Action.ORPHAN:
            self.book.forget_broadcast(change.key, target, skip=set())
            return target
        body = dict(change.body)
        stream_ids = self._stream_ids(change) if change.stream_refs else None
        if stream_ids is not None:
            body["stream_ids"] = stream_ids
        if body:
            if "name" not in body and self.broadcast_names.get(target):
                body["name"] = self.broadcast_names[target]
            self.api.update_broadcast(target, body)
        if action is Action.ADOPT and stream_ids is None:
            stream_ids = self.live_broadcast_streams.get(target, [])
        if stream_ids is not None:
            # Record on the streams it uses now, then drop it from those it left (never unowned).
            self.book.record_broadcast(stream_ids, change.key, target)
            self.book.forget_broadcast(change.key, target, skip=set(stream_ids) | self.doomed)
        return target

    def _create_stream(self, change: Change) -> tuple[int, str]:
        body = dict(change.body)
        detail = ""
        try:
            answer = self.api.create_stream(body)
        except AmbiguousCreate:
            found = self._find_stream(change)
            if found is not None:
                answer, detail = found, FOUND_AFTER_AMBIGUOUS
            else:
                answer = self._create_again(lambda: self.api.create_stream(body))
        stream_id = int(answer["id"])
        self.created[(Resource.STREAM, change.key)] = stream_id
        self.book.note_stream(change.key, stream_id, body, answer)
        return stream_id, detail

    def _create_broadcast(self, change: Change) -> tuple[int, str]:
        body = dict(change.body)
        stream_ids = self._stream_ids(change)
        if change.stream_refs:
            body["stream_ids"] = stream_ids
        detail = ""
        try:
            answer = self.api.create_broadcast(body)
        except AmbiguousCreate:
            found = self._find_broadcast(body, stream_ids)
            if found is not None:
                answer, detail = found, FOUND_AFTER_AMBIGUOUS
            else:
                answer = self._create_again(lambda: self.api.create_broadcast(body))
        broadcast_id = int(answer["id"])
        self.created[(Resource.BROADCAST, change.key)] = broadcast_id
        self.known_broadcasts.add(broadcast_id)
        try:
            self.book.record_broadcast(stream_ids, change.key, broadcast_id)
        except ReconcilerError as error:
            raise ReconcilerError(
                f"broadcast created (id {broadcast_id}) but recording it in the stream markers "
                f"failed: {error}; the next run adopts it by its name"
            ) from error
        return broadcast_id, detail

    def _create_again(self, create: Callable[[], Json]) -> Json:
        """One more create after a lookup found nothing; a second unknown outcome is a failure."""
        try:
            return create()
        except AmbiguousCreate as second:
            raise ReconcilerError(
                f"the outcome is unknown after two attempts ({second}); not tried again: the "
                "next run finds the object if it was created"
            ) from second

    def _find_stream(self, change: Change) -> Json | None:
        """The stream carrying our marker (set + key): the create was committed after all."""
        wanted = decode_entity_data(change.body.get("client_entity_data")).marker
        if wanted is None:
            return None
        for stream in self.api.list_streams():
            marker = decode_entity_data(stream.get("client_entity_data")).marker
            if marker and (marker.set_name, marker.key) == (wanted.set_name, wanted.key):
                return stream
        return None

    def _find_broadcast(self, body: Mapping[str, Any], stream_ids: list[int]) -> Json | None:
        """The newest unknown broadcast with that name using one of our streams."""
        ours = set(stream_ids) & self.book.our_ids() or set(stream_ids)
        matches = [
            b
            for b in self.api.list_broadcasts()
            if b.get("name") == body.get("name")
            and int(b["id"]) not in self.known_broadcasts
            and ours & {int(s) for s in b.get("stream_ids") or []}
        ]
        return max(matches, key=lambda b: int(b["id"])) if matches else None

    # --- ids ---------------------------------------------------------------------------------

    def _target(self, change: Change) -> int:
        if change.target_id is not None:
            return change.target_id
        created = self.created.get((change.resource, change.key))
        if created is None:
            raise _Unresolved(f"{change.resource} '{change.key}' has no id: it was not created")
        return created

    def _stream_ids(self, change: Change) -> list[int]:
        ids: list[int] = []
        for ref in change.stream_refs:
            stream_id = self.book.stream_id(ref)
            if stream_id is None:
                raise _Unresolved(f"stream '{ref}' has no id: it does not exist in the account")
            ids.append(stream_id)
        return ids


def _dependencies(plan: Plan) -> list[tuple[int, ...]]:
    """Declared `depends_on` plus the implicit ones: a change on an object needs its create or
    adoption first, and a broadcast needs the create or adoption of the streams it uses."""
    by_id: dict[str, list[int]] = defaultdict(list)
    for index, change in enumerate(plan.changes):
        by_id[change.id].append(index)
    out: list[tuple[int, ...]] = []
    for index, change in enumerate(plan.changes):
        wanted = set(change.depends_on)
        for action in (Action.CREATE, Action.ADOPT):
            if change.action is not action:
                wanted.add(f"{change.resource}/{change.key}/{action}")
            for ref in change.stream_refs:
                wanted.add(f"{Resource.STREAM}/{ref}/{action}")
        deps = {
            dep
            for name in wanted
            for dep in by_id.get(name, ())
            if dep != index and plan.changes[dep].stage <= change.stage
        }
        # A declared dependency on a later stage cannot be met: keep it so the change is skipped.
        deps |= {dep for name in change.depends_on for dep in by_id.get(name, ()) if dep != index}
        out.append(tuple(sorted(deps)))
    return out


def _past(outcome: Outcome) -> str:
    words = {Outcome.FAILED: "failed", Outcome.SKIPPED: "was skipped", Outcome.HELD: "is held"}
    return words.get(outcome, str(outcome))
