"""How apply finds the object of a create in the account (invariant 8): one sweep of the kind
before a stage's first POST of that kind (the plan's read can miss an object when a page shifts),
and one sweep per round for the creates whose outcome is unknown (lost creates).

Knows the API only through `StreamingAPI`; knows nothing of scheduling: it says what to do.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from reconciler.api.protocol import StreamingAPI
from reconciler.apply.markers import Json, StreamBook
from reconciler.apply.matching import Intents, match_lost_broadcasts, match_lost_streams
from reconciler.errors import AmbiguousCreate, ReconcilerError
from reconciler.model.changes import Action, Change, Plan, Resource
from reconciler.model.live import ENTITY, marker_in
from reconciler.redact import redact_text

FOUND_AFTER_AMBIGUOUS = "found after an ambiguous create"
FOUND_BEFORE_CREATING = "found before creating (the plan's read missed it)"
# The server committed a broadcast create but answered without it (the official spec's empty 200).
CREATED_WITHOUT_BODY = "the API answered the create without the broadcast"
# POSTs of one create in one run. Every unknown outcome is looked up before the next POST.
MAX_CREATE_ATTEMPTS = 3


@dataclass(frozen=True)
class Sought:
    """A create to look for: what it sends (a broadcast's body with its stream_ids) and, for a
    lost create, why its outcome is unknown. `committed`: the server said it created it (an empty
    200), so it is never sent again, only looked up."""

    body: Json
    stream_ids: tuple[int, ...]
    error: str = ""
    committed: bool = False


@dataclass(frozen=True)
class Found:
    """The object a create made (or had made before this run): recorded as its answer."""

    sought: Sought
    answer: Json
    detail: str


class Finder:
    """The lookup sweeps of one apply. A broadcast this run knew before a POST (read by the plan,
    seen by a sweep before creating, or made by this run) is never taken by its name, nor one on
    no stream recording the intent to create it (`prior_intents`: as the plan's read found them,
    from an interrupted run; the book's: those this run wrote before its POSTs)."""

    def __init__(
        self,
        api: StreamingAPI,
        book: StreamBook,
        known_broadcasts: Iterable[int],
        prior_intents: Intents,
    ):
        self.api = api
        self.book = book
        self.known_broadcasts = set(known_broadcasts)
        self.prior_intents = prior_intents
        self.prior_recorded = book.recorded_broadcasts()  # as the plan's read found the markers

    def find(
        self, resource: Resource, wanted: Mapping[int, Sought], keys: Mapping[int, str]
    ) -> dict[int, Json]:
        """One sweep of `resource`: index -> the object that create made. Streams are matched by
        our marker (set + key); broadcasts by name on a stream with the intent. `keys`: each
        create's key."""
        if resource is Resource.STREAM:
            entity = {i: item.body.get("client_entity_data") for i, item in wanted.items()}
            return match_lost_streams(self.api.list_streams(), entity)
        found = match_lost_broadcasts(
            self.api.list_broadcasts(),
            {i: (keys[i], item.body, item.stream_ids) for i, item in wanted.items()},
            known=self.known_broadcasts,
            intents=self.book.intents(),
        )
        return found

    def find_planned(
        self, resource: Resource, wanted: Mapping[int, Sought], keys: Mapping[int, str]
    ) -> dict[int, Json]:
        """Before a stage's first POST of `resource`: the objects of its planned creates that the
        account holds although the plan's read missed them; a broadcast also by the id our
        markers record under its key. Every listed broadcast is known from then on."""
        if resource is Resource.STREAM:
            return self.find(resource, wanted, keys)
        listing = self.api.list_broadcasts()
        listed = {int(b["id"]): b for b in listing if "id" in b}
        recorded = self.book.recorded_broadcasts()
        for key, prior in self.prior_recorded.items():
            recorded[key] |= prior
        found: dict[int, Json] = {}
        taken: set[int] = set()  # each broadcast goes to one create
        for index in sorted(wanted):
            ids = sorted(recorded.get(keys[index], set()) & listed.keys() - taken)
            if ids:
                found[index] = dict(listed[ids[0]])
                taken.add(ids[0])
        found |= match_lost_broadcasts(
            listing,
            {i: (keys[i], s.body, s.stream_ids) for i, s in wanted.items() if i not in found},
            known=self.known_broadcasts | taken,
            intents=self.prior_intents,
        )
        self.known_broadcasts.update(listed)  # all existed before the POSTs: no lost create's
        return found


class StageLookup:
    """The lookups of one stage: its planned creates before the first POST of their kind (one
    sweep per kind, all of them at once), then its lost creates after each round."""

    def __init__(
        self,
        finder: Finder,
        plan: Plan,
        indexes: Iterable[int],
        create_body: Callable[[Change], tuple[Json, list[int]]],
    ) -> None:
        self.finder = finder
        self.plan = plan
        self.create_body = create_body  # what a create sends; raises if a stream has no id
        self.creates: dict[Resource, list[int]] = defaultdict(list)
        for index in indexes:
            change = plan.changes[index]
            if change.action is Action.CREATE and change.held is None:
                self.creates[change.resource].append(index)
        self.looked: set[Resource] = set()
        self.failures: dict[Resource, str] = {}
        self.found: dict[int, Found] = {}
        self.attempts: dict[int, int] = defaultdict(int)

    def to_send(self, resource: Resource) -> list[int]:
        """The planned creates of `resource` that will POST: those the stage's look-up (done now,
        once) did not find in the account."""
        if not self.creates[resource]:
            return []
        self._look(resource)
        if resource in self.failures:
            return []
        return [i for i in self.creates[resource] if i not in self.found]

    def before_creating(self, index: int) -> Found | str | None:
        """For a planned create about to run: its object if the account already holds it, a
        failure if the stage's lookup failed (no create without looking), None to create it."""
        resource = self.plan.changes[index].resource
        self._look(resource)
        if resource in self.failures:
            return (
                f"looking for it before creating failed: {self.failures[resource]}; not "
                "created: the next run looks again and creates it"
            )
        return self.found.pop(index, None)

    def _look(self, resource: Resource) -> None:
        if resource not in self.looked:
            self.looked.add(resource)
            group: dict[int, Sought] = {}
            for i in self.creates[resource]:
                try:
                    body, stream_ids = self.create_body(self.plan.changes[i])
                except ReconcilerError:  # it fails when it runs: nothing to look for
                    continue
                group[i] = Sought(body, tuple(stream_ids))
            try:
                keys = {i: self.plan.changes[i].key for i in group}
                found = self.finder.find_planned(resource, group, keys)
            except Exception as error:  # an ApiError; a bug must still give each a result
                self.failures[resource] = _describe(error)
            else:
                for i, answer in found.items():
                    self.found[i] = Found(group[i], answer, FOUND_BEFORE_CREATING)

    def lost_round(self, lost: Mapping[int, Sought]) -> dict[int, Found | str | None]:
        """One sweep per kind for all the lost creates of this round: Found = ours; None = create
        it again (the budget lasts); a text = it fails with that."""
        out: dict[int, Found | str | None] = {}
        for resource in (Resource.STREAM, Resource.BROADCAST):
            group = {i: s for i, s in lost.items() if self.plan.changes[i].resource is resource}
            if not group:
                continue
            try:
                keys = {i: self.plan.changes[i].key for i in group}
                found = self.finder.find(resource, group, keys)
            except Exception as error:  # an ApiError; a bug must still give each a result
                for index, item in sorted(group.items()):
                    out[index] = (
                        f"the outcome is unknown ({item.error}) and looking for the object "
                        f"failed: {_describe(error)}; not created again: the next run finds it "
                        "if it exists"
                    )
                continue
            for index, item in sorted(group.items()):
                self.attempts[index] += 1
                if index in found:
                    detail = "" if item.committed else FOUND_AFTER_AMBIGUOUS
                    out[index] = Found(item, found[index], detail)
                elif item.committed:
                    out[index] = (
                        f"{CREATED_WITHOUT_BODY} and it is not in the list; not created again: "
                        "the next run finds it by the intent recorded on its streams"
                    )
                elif self.attempts[index] < MAX_CREATE_ATTEMPTS:
                    out[index] = None
                else:
                    out[index] = (
                        f"the outcome is unknown after {MAX_CREATE_ATTEMPTS} attempts (last: "
                        f"{item.error}) and a lookup after each found nothing; not tried again "
                        "in this run: the next run creates it"
                    )
        return out


def lost_create(
    resource: Resource, body: Json, stream_ids: Sequence[int], error: AmbiguousCreate
) -> Sought:
    """A create whose outcome is unknown, to look up with its round; a stream without our
    marker cannot be recognised in a listing, so it fails instead (never created twice)."""
    if resource is Resource.STREAM and marker_in(body.get(ENTITY)) is None:
        raise ReconcilerError(
            f"{error}; the stream carries no marker to look for it by: not created again"
        ) from error
    return Sought(body, tuple(stream_ids), redact_text(str(error)))


def _describe(error: Exception) -> str:
    if isinstance(error, ReconcilerError):
        return str(error)
    return f"internal error: {type(error).__name__}: {error}"
