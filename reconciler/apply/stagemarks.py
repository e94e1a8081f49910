"""The marker writes a stage owes (invariant 8, issue 12): the intents to create its broadcasts,
written before their POSTs (one PATCH per stream), and the marker edits its changes made, for
each stream that no later change of the plan PATCHes anyway (that PATCH carries them: one write
per stream per stage). A stream's edits are written by the last change of the stage that edits
it, right after its own write, beside the stream as that change re-read it (one read per change);
what is left (that change failed, was held or skipped) is written after the stage.

Knows the marker book and the plan; knows nothing of scheduling order or of the API client.
"""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping

from reconciler.apply.markers import Json, StreamBook
from reconciler.apply.workers import Workers
from reconciler.errors import ReconcilerError
from reconciler.model.changes import Action, Change, ChangeResult, Outcome, Plan, Resource
from reconciler.model.live import ENTITY

NOT_WRITTEN = "not written: "  # the guard stopped the run before this marker write
# (index, why) -> the FAILED result of a change whose marker edit could not be written
Fail = Callable[[int, str], None]


class StageMarks:
    def __init__(
        self,
        plan: Plan,
        book: StreamBook,
        pool: Workers,
        workers: int,
        guard: Callable[[], str | None] | None = None,
    ):
        self.plan = plan
        self.book = book
        self.pool = pool
        self.workers = max(1, workers)
        self.guard = guard  # a reason to write nothing more (the lock was lost), or None
        # Stream changes that PATCH the stream anyway: pending marker edits ride with them.
        self.carriers: dict[str, list[int]] = defaultdict(list)
        for index, change in enumerate(plan.changes):
            if _carries_markers(change):
                self.carriers[change.key].append(index)
        self._lock = threading.Lock()
        # change -> the streams it may edit (this stage), and which of them others may edit too
        self._edits: dict[int, tuple[list[int], set[int]]] = {}
        self._editors: Counter[int] = Counter()  # shared stream -> its editors not yet settled
        self._write_errors: dict[int, str] = {}  # stream -> why its write at a change failed

    def begin(self, stage: int, indexes: Iterable[int]) -> None:
        """Before `stage` runs: which of its changes may edit which stream's marker, for the
        streams no later change PATCHes (a guess from the plan and the book: it only decides
        whether a stream is written at its last editor or after the stage)."""
        carried = {  # keys of the streams a later change PATCHes (their edits ride with it)
            key for key, ids in self.carriers.items() if any(self._stage_of(i) > stage for i in ids)
        }
        edits: dict[int, list[int]] = {}
        for index in indexes:
            change = self.plan.changes[index]
            if change.held is None:
                edits[index] = [
                    sid
                    for sid in self._may_edit(change)
                    if not carried or self.book.key_of(sid) not in carried
                ]
        editors = Counter(sid for sids in edits.values() for sid in sids)
        with self._lock:
            self._edits = {
                index: (sids, {sid for sid in sids if editors[sid] > 1})
                for index, sids in edits.items()
            }
            self._editors = Counter({sid: n for sid, n in editors.items() if n > 1})

    def settled(self, index: int, fresh: Mapping[int, Json]) -> None:
        """The change is done (on its worker): write the streams it was the last to edit, beside
        `fresh` (the streams it re-read just before its write) where it read them."""
        sids, shared = self._edits.pop(index, ([], set()))  # each change settles once
        due = sids
        if shared:  # a stream several changes edit: the last of them to settle writes it
            with self._lock:  # (the others need no lock: no other change counts them)
                due = []
                for sid in sids:
                    if sid in shared:
                        self._editors[sid] -= 1
                        if self._editors[sid]:
                            continue
                    due.append(sid)
        for sid in due:
            if self.guard is not None and self.guard() is not None:
                return  # the run must stop: after_stage reports them not written
            try:
                self.book.flush(sid, fresh)
            except Exception as error:  # reported after the stage, with the others
                with self._lock:
                    self._write_errors[sid] = _describe(error)

    def write_intents(self, creates: Iterable[int]) -> dict[int, str]:
        """Before a stage's broadcast POSTs (`creates`: those that will POST): the intent to
        create each, in the markers of its streams that are ours (one PATCH per stream, only
        where the stream's create has not written it already). Returns the creates that must
        not run, with why."""
        waiting: dict[int, list[int]] = defaultdict(list)  # stream id -> creates it records
        for index in creates:
            change = self.plan.changes[index]
            intent = {change.key: str(change.body.get("name", change.title or change.key))}
            for ref in change.stream_refs:
                sid = self.book.stream_id(ref)
                if sid is not None and self.book.intend(sid, intent):
                    waiting[sid].append(index)
        failed: dict[int, str] = {}
        for sid, error in self._flush_all(list(waiting)).items():
            if error.startswith(NOT_WRITTEN):  # the run stops: each create is skipped with why
                continue
            for index in waiting[sid]:
                failed.setdefault(
                    index,
                    f"recording the intent to create it on stream #{sid} failed: {error}; not "
                    "created (without it an interrupted create could not be recognised)",
                )
        return failed

    def after_stage(
        self, stage: int | None, results: Mapping[int, ChangeResult], fail: Fail
    ) -> None:
        """After `stage` (None: the last), write the pending marker edits of each stream that
        no later change PATCHes anyway; a failed write fails the changes whose edits it
        carried (their object exists; the next run repairs the marker)."""
        todo = [
            sid
            for sid in self.book.dirty()
            if stage is None or not self._patched_later(sid, stage, results)
        ]
        origins = {sid: self.book.origins(sid) for sid in todo}
        with self._lock:
            failed, self._write_errors = self._write_errors, {}
        errors = {sid: failed[sid] for sid in todo if sid in failed}  # written once per stage
        errors.update(self._flush_all([sid for sid in todo if sid not in failed]))
        for sid, error in errors.items():
            self.book.forget_stream(sid)  # reported once
            for index in sorted(origins[sid]):
                result = results.get(index)
                if result is not None and result.outcome is Outcome.DONE:
                    done = f"{result.detail}; " if result.detail else ""
                    fail(
                        index,
                        f"{done}done, but recording it in the marker of stream #{sid} failed: "
                        f"{error}; the next run repairs the marker",
                    )

    def _stage_of(self, index: int) -> int:
        return self.plan.changes[index].stage

    def _patched_later(self, sid: int, stage: int, results: Mapping[int, ChangeResult]) -> bool:
        return any(
            self.plan.changes[i].stage > stage and i not in results
            for i in self.carriers.get(self.book.key_of(sid) or "", ())
        )

    def _may_edit(self, change: Change) -> set[int]:
        """The streams whose marker the change may edit: its stream, or a broadcast's streams
        (those it uses and those whose markers record it now)."""
        if change.resource is Resource.STREAM:
            sid = change.target_id or self.book.stream_id(change.key)
            return {sid} if sid is not None else set()
        refs = {self.book.stream_id(ref) for ref in change.stream_refs}
        recording = self.book.recording(change.target_id) if change.target_id else set()
        return {sid for sid in refs if sid is not None} | recording

    def _flush_all(self, stream_ids: list[int]) -> dict[int, str]:
        """Write the streams' pending edits on the pool, in one task per worker (not one per
        stream: thousands of futures cost more CPU than the bookkeeping); stream id -> error."""
        chunks = [stream_ids[i :: self.workers] for i in range(self.workers)]
        errors: dict[int, str] = {}
        for found in self.pool.map(self._flush_chunk, [c for c in chunks if c]):
            errors.update(found)
        return errors

    def _flush_chunk(self, stream_ids: list[int]) -> dict[int, str]:
        errors = {}
        for sid in stream_ids:
            stop = self.guard() if self.guard is not None else None
            if stop is not None:  # as for a change: no write once the run must stop
                errors[sid] = f"{NOT_WRITTEN}{stop}"
                continue
            try:
                self.book.flush(sid)
            except Exception as error:  # an ApiError; a bug must still be reported, not raised
                errors[sid] = _describe(error)
        return errors


def _carries_markers(change: Change) -> bool:
    """A planned stream PATCH without a marker of its own: pending marker edits ride with it."""
    if change.resource is not Resource.STREAM or change.held is not None:
        return False
    if change.action in (Action.ACTIVATE, Action.DEACTIVATE):
        return True
    return change.action in (Action.UPDATE, Action.ADOPT) and ENTITY not in change.body


def _describe(error: Exception) -> str:
    if isinstance(error, ReconcilerError):
        return str(error)
    return f"internal error: {type(error).__name__}: {error}"
