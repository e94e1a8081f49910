"""The typed live model (parsed once, odd data marked, never raising) and the ownership index
(one rule for duplicate keys, recorders per broadcast)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconciler.model.live import LiveState, LiveStream, parse_entity
from reconciler.model.marker import LOCK_KEY, Marker, encode_entity_data
from reconciler.model.ownership import ownership_of


def stream(sid: int, marker: Marker | None = None, **fields: Any) -> dict[str, Any]:
    entity = encode_entity_data(marker, None)
    return {"id": sid, "name": f"s{sid}", "client_entity_data": entity, **fields}


@pytest.mark.parametrize(
    ("value", "odd"),
    [
        (None, None),
        ("", None),
        ("not json", None),
        (7, "its client_entity_data is a number, not text"),
        (1.5, "its client_entity_data is a number, not text"),
        ({"reconciler": {}}, "its client_entity_data is a JSON dict, not text"),
        ("[" * 65 + "]" * 65, "its client_entity_data is nested deeper than 64 levels"),
        ('{"a": "' + "[" * 100 + '"}', None),  # brackets inside a string are text, not depth
    ],
)
def test_entity_values_never_raise(value: Any, odd: str | None) -> None:
    parsed = parse_entity(value)
    assert parsed.odd == odd
    assert parsed.data.marker is None


def test_stream_properties_are_defined_once() -> None:
    s = LiveStream.parse(
        stream(1, Marker("a", "cam"), backup_live=True, recording=1, broadcast_ids=[3, "4", None])
    )
    assert (s.on_air, s.live, s.recording, s.active) == (True, False, True, False)
    assert s.marker == Marker("a", "cam") and s.broadcast_ids == (3, 4)
    lock = LiveStream.parse({"id": 2, "client_entity_data": json.dumps({LOCK_KEY: {}})})
    assert lock.is_lock and lock.carries_lock_record


def test_a_lone_surrogate_name_makes_a_stream_nobodys_and_printable() -> None:
    s = LiveStream.parse(stream(1, Marker("a", "cam"), name="x\ud800"))
    assert s.odd == "its name is not valid text (a lone surrogate)"
    assert s.marker is None
    assert s.name == "x\\ud800"


def test_duplicate_keys_one_rule_lowest_id_the_others_listed() -> None:
    live = LiveState.from_raw(
        [
            stream(9, Marker("a", "cam")),
            stream(4, Marker("a", "cam", broadcasts={"show": 100})),
            stream(5, Marker("b", "cam", broadcasts={"other": 101})),
        ],
        [{"id": 100, "stream_ids": [4]}, {"id": 101, "stream_ids": [5]}],
    )
    own = ownership_of(live, "a")
    assert own is ownership_of(live, "a")  # built once per live state and set
    assert own.owned["cam"].id == 4 and set(own.duplicates) == {9}
    assert own.warnings == (
        "stream 'cam': several streams carry this set's marker for it; #4 is managed, #9 left "
        "untouched (delete or re-key them by hand)",
    )
    assert own.conflicts == {}
    assert own.recorded == {100: frozenset({"show"})}
    assert [o.id for o in own.recorders[100]] == [4]
    assert own.foreign == {5: "b"} and own.foreign_broadcasts == {101: "b"}


def test_a_lower_copy_our_broadcasts_do_not_use_is_a_conflict_not_a_switch() -> None:
    # #4 carries a copy of #9's marker (entries too); the broadcast uses #9 only.
    copied = Marker("a", "cam", broadcasts={"show": 100})
    live = LiveState.from_raw(
        [stream(9, copied), stream(4, copied)], [{"id": 100, "stream_ids": [9]}]
    )
    own = ownership_of(live, "a")
    assert own.owned["cam"].id == 9 and set(own.duplicates) == {4}
    assert [o.id for o in own.recorders[100]] == [9]
    assert set(own.conflicts) == {"cam"}
    assert own.conflicts["cam"] in own.warnings
    assert "#4, #9" in own.conflicts["cam"] and "held" in own.conflicts["cam"]


def test_an_entry_on_a_stream_the_broadcast_does_not_use_claims_nothing() -> None:
    forged = Marker("a", "cam", broadcasts={"theirs": 200})
    live = LiveState.from_raw([stream(1, forged), stream(2)], [{"id": 200, "stream_ids": [2]}])
    own = ownership_of(live, "a")
    assert own.recorded == {} and own.recorders == {}
    assert own.warnings == (
        "stream 'cam' (#1): its marker records broadcast 'theirs' as #200, which does not use "
        "this stream: not counted as this set's (a copied, forged or stale entry)",
    )


def test_our_entry_ahead_of_a_move_claims_nothing_and_is_no_warning() -> None:
    # The plan records `show` on cam-b, which it will use once its move off cam-a is made.
    live = LiveState.from_raw(
        [
            stream(1, Marker("a", "cam-a", broadcasts={"show": 100})),
            stream(2, Marker("a", "cam-b", broadcasts={"show": 100})),
        ],
        [{"id": 100, "stream_ids": [1]}],
    )
    own = ownership_of(live, "a")
    assert own.recorded == {100: frozenset({"show"})}
    assert [o.id for o in own.recorders[100]] == [1]
    assert own.warnings == ()


def test_a_listing_without_stream_ids_is_not_cross_checked() -> None:
    live = LiveState.from_raw(
        [stream(1, Marker("a", "cam", broadcasts={"show": 100}))], [{"id": 100}]
    )
    assert ownership_of(live, "a").recorded == {100: frozenset({"show"})}


@pytest.mark.parametrize(
    ("text", "user"),
    [
        ('{"team": "news"}', {"team": "news"}),
        (' {"team": "news"}\n', {"team": "news"}),  # around the object: still the object
        ('{"team": "news"} x', None),  # trailing text: not JSON
        ('{"team": "news"}{}', None),
        ('{"team": "news"', None),
        ("[1]", None),
        ('"text"', None),
    ],
)
def test_entity_text_decodes_as_json_alone(text: str, user: dict[str, Any] | None) -> None:
    data = parse_entity(text).data
    assert data.user_data == user and data.marker is None and data.raw == text


@given(
    st.dictionaries(
        st.text(max_size=5).filter(lambda k: k != "reconciler"),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(max_size=5),
            lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner),
            max_leaves=6,
        ),
        max_size=4,
    ),
    st.sampled_from(["", " ", "\n  "]),
)
def test_user_data_reads_back_whatever_its_layout(user: dict[str, Any], pad: str) -> None:
    text = pad + json.dumps({**user, "reconciler": {"set": "a", "key": "cam"}}, indent=1) + pad
    data = parse_entity(text).data
    assert data.marker == Marker("a", "cam") and data.exact
    assert (data.user_data or {}) == user
    # Exact: writing the same marker and user data again stores the same JSON value.
    assert data.same_entity(Marker("a", "cam"), user or None)
    assert json.loads(encode_entity_data(Marker("a", "cam"), user) or "") == json.loads(text)


@pytest.mark.parametrize(
    "stored",
    [
        {"set": "a", "key": "cam", "protect": False},  # a flag this set writes only when true
        {"set": "a", "key": "cam", "broadcasts": {}},  # an empty map this set leaves out
        {"set": "a", "key": "cam", "broadcasts": {"b": True}},  # an id that is not a number
        {"set": "a", "key": "cam", "broadcasts": {"b": 1.0}},
        {"set": "a", "key": "cam", "note": "by hand"},  # a key this set does not know
        {"set": "a", "key": "cam", "released_broadcasts": [2, 1]},  # not in its order
        {"set": "a", "key": "cam", "live_after": {"b": 3}},
    ],
)
def test_a_marker_not_as_this_set_writes_it_is_not_exact(stored: dict[str, Any]) -> None:
    data = parse_entity(json.dumps({"reconciler": stored})).data
    assert data.marker is not None and not data.exact
    assert not data.same_entity(data.marker, None)
    # What this set would write is another JSON value (so the stored one gets repaired).
    written = json.loads(encode_entity_data(data.marker, None) or "")["reconciler"]
    assert json.dumps(written, sort_keys=True) != json.dumps(stored, sort_keys=True)


def test_a_full_marker_as_this_set_writes_it_is_exact() -> None:
    marker = Marker(
        "a",
        "cam",
        broadcasts={"b": 7},
        protect=True,
        orphan=True,
        protected_broadcasts=frozenset({"b", "c"}),
        orphan_broadcasts=frozenset({"d"}),
        released_broadcasts=frozenset({3, 1}),
        intents={"e": "Show"},
        live_after={"b": ""},
    )
    data = parse_entity(encode_entity_data(marker, {"team": "news"})).data
    assert data.marker == marker and data.exact
    assert data.same_entity(marker, {"team": "news"})
    assert not data.same_entity(marker, {"team": "sports"})
    assert not data.same_entity(Marker("a", "cam"), {"team": "news"})
