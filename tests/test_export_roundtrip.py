"""Property: whatever strings the account holds (names, messages, URLs, the user's own
`client_entity_data` keys and values), the export loads back to exactly them, so its plan against
the same account is empty, and no environment variable is read into any value."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.export import export_manifests
from reconciler.manifest.loader import load_manifests
from reconciler.plan.compute import compute_plan
from reconciler.redact import redact_text
from tests.safety.safety_factories import live_broadcast, live_state, live_stream

EXAMPLES = settings(
    max_examples=int(os.environ.get("EXPORT_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


class EveryVariableIsSet(Mapping[str, str]):
    """An environment in which every `${NAME}` has a value: any reference the export wrote
    (rather than text) shows up as a changed value in the plan."""

    def __getitem__(self, name: str) -> str:
        return "<from the environment>"

    def __contains__(self, name: object) -> bool:
        return True

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


# Mostly the pieces of references and escapes, and any other character now and then (no
# surrogates: the account's JSON cannot hold a lone one). A string that holds a secret is
# exported as a reference on purpose (tested in test_export_status.py).
_PIECES = st.sampled_from(["$", "${", "$${", "}", "{", "HOME", "X1", "_", " ", ":-", "\n"])
_PIECE = st.one_of(_PIECES, st.characters(blacklist_categories=("Cs",)))
_TEXT = st.lists(_PIECE, max_size=12).map("".join).filter(lambda text: redact_text(text) == text)
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | _TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3),
    max_leaves=8,
)


@EXAMPLES
@given(
    stream_name=_TEXT.filter(bool),
    uri=_TEXT,
    user_data=st.dictionaries(_TEXT.filter(lambda k: k not in ("reconciler",)), _JSON, max_size=4),
    broadcast_name=_TEXT.filter(bool),
    pending_message=_TEXT,
    share_url=_TEXT,
)
def test_the_export_loads_back_to_the_account(
    tmp_path_factory: Any,
    stream_name: str,
    uri: str,
    user_data: dict[str, Any],
    broadcast_name: str,
    pending_message: str,
    share_url: str,
) -> None:
    stream = live_stream(
        7, stream_name, key="studio", broadcasts={"show": 3}, user_data=user_data, uri=uri
    )
    broadcast = live_broadcast(
        3, broadcast_name, [7], pending_message=pending_message, share_url=share_url
    )
    live = live_state([stream], [broadcast])
    text = export_manifests(live, set_name="prod")
    manifest = Path(tmp_path_factory.mktemp("export")) / "export.yaml"
    manifest.write_text(text, encoding="utf-8")

    desired = load_manifests([manifest], environ=EveryVariableIsSet())
    assert desired.streams["studio"].user_entity_data == (user_data or None)
    plan = compute_plan(desired, live)
    assert plan.is_empty, plan.changes
