"""Lock lifetimes out of range (issue 9, item 13): `--lock-ttl 1e308` is refused at the edge, and
a lock record in the account with an absurd expiry (left by an older version, or made by hand)
is read as held with a clamped date: `apply` names it and points at `unlock`, which removes it.
Before, such a lock crashed every `apply` and `unlock` with an OverflowError."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cli_harness import Invoke
from lock_support import SET, lock_streams, write_streams

from reconciler.errors import SetLocked
from reconciler.lock.lease import acquire_lock
from reconciler.model.marker import LOCK_KEY


@pytest.mark.parametrize("ttl", ["1e308", "inf", "nan", "86401", "0.5"])
def test_an_out_of_range_lock_ttl_is_refused_before_any_request(
    sim: Any, tmp_path: Path, ttl: str
) -> None:
    invoke = Invoke(sim)
    result = invoke("apply", "--yes", "--lock-ttl", ttl, write_streams(tmp_path, 1))
    assert "Traceback" not in result.output
    assert result.exit_code == 2
    assert "Invalid value for '--lock-ttl'" in result.stderr
    if ttl in ("inf", "nan"):  # click's range lets NaN through: cli/options.py stops both
        assert f"'{ttl}' is not a finite number in the range 1<=x<=86400." in result.stderr
    else:
        assert "is not in the range 1.0<=x<=86400.0" in result.stderr
    assert sim.requests() == []


def test_lock_wait_must_be_a_number(sim: Any, tmp_path: Path) -> None:
    invoke = Invoke(sim)
    result = invoke("apply", "--yes", "--lock-wait", "nan", write_streams(tmp_path, 1))
    assert result.exit_code == 2
    assert result.stderr.endswith(
        "Error: Invalid value for '--lock-wait': 'nan' is not a finite number in the range x>=0.\n"
    )
    assert sim.requests() == []


ABSURD = {  # the JSON text of `expires_at` -> the date it reads as
    "1e308": "9999-12-31T23:59:59Z",
    "1e400": "9999-12-31T23:59:59Z",  # Infinity once parsed
    "1" + "0" * 400: "9999-12-31T23:59:59Z",  # an int no float holds
    "NaN": "9999-12-31T23:59:59Z",  # undatable: held, the safe side
    "Infinity": "9999-12-31T23:59:59Z",
    "-1e308": None,  # long expired: the next apply deletes it and goes on
}


@pytest.mark.parametrize("expires", list(ABSURD))
def test_a_lock_with_an_absurd_expiry_never_crashes_and_unlock_removes_it(
    sim: Any, api: Any, tmp_path: Path, expires: str
) -> None:
    invoke = Invoke(sim)
    path = write_streams(tmp_path, 1)
    record = f'{{"{LOCK_KEY}": {{"expires_at": {expires}, "nonce": "x", "owner": "old", '
    record += f'"set": "{SET}"}}}}'
    api.create_stream({"name": f"reconciler-lock: {SET}", "client_entity_data": record})
    until = ABSURD[expires]

    applied = invoke("apply", "--yes", path)
    assert "Traceback" not in applied.output
    if until is None:
        assert applied.exit_code == 0, applied.output
        assert lock_streams(api) == []
        return
    assert applied.exit_code == 1
    assert applied.stderr == (
        f"error: manifest set '{SET}' is locked by 'old' until {until}; no run sets an expiry "
        "more than 86400 s ahead: if no apply of the set is running, remove the lock with "
        "`reconciler unlock`\n"
    )

    unlocked = invoke("unlock", "--set-name", SET, "--yes")
    assert unlocked.exit_code == 0, unlocked.output
    assert f"lock of '{SET}' held by 'old' until {until} " in unlocked.stdout
    assert unlocked.stdout.endswith(f"removed 1 lock of '{SET}'\n")
    assert lock_streams(api) == []
    assert invoke("apply", "--yes", path).exit_code == 0


def test_a_lock_nested_too_deep_to_parse_is_not_a_lock_and_crashes_nothing(
    sim: Any, api: Any, tmp_path: Path
) -> None:
    invoke = Invoke(sim)
    deep = json.dumps({LOCK_KEY: "["}).replace('"["', "[" * 1500 + "]" * 1500)
    api.create_stream({"name": "someone's stream", "client_entity_data": deep})
    result = invoke("unlock", "--set-name", SET, "--yes")
    assert (result.exit_code, result.stdout) == (0, f"manifest set '{SET}' is not locked\n")


def test_a_lock_a_day_ahead_is_an_ordinary_holder(api: Any) -> None:
    holder = acquire_lock(api, SET, owner="nightly", ttl=86400)
    with pytest.raises(SetLocked) as caught:
        acquire_lock(api, SET, owner="me")
    assert str(caught.value).endswith("another apply is running. Retry later or raise --lock-wait")
    holder.release()
