"""Limits the API's spec does not state (a stream name's length, the range of client_user_id) are
not guessed by validation; the platform's refusal reaches the user as one clear failure of that
object, nothing is created, and the exit code is 1 (docs/manifests.md, the field limits)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def test_a_value_the_platform_refuses_fails_that_object_with_its_message(
    sim: Any, api: Any, invoke: Any, tmp_path: Path
) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(
        "kind: Settings\nname: long\n---\nkind: Stream\nname: cam\nspec:\n"
        f"  name: {'x' * 5000}\n  client_user_id: {2**64}\n"
    )
    assert invoke("validate", path).exit_code == 0
    result = invoke("apply", "--yes", path)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert (
        "422: rejected: name: is too long (maximum is 255 characters); client_user_id: must be "
        "less than or equal to 9223372036854775807" in result.output
    )
    assert "Apply: 0 done, 1 failed, 0 skipped, 0 held." in result.stdout
    assert [s for s in api.list_streams() if s["name"].startswith("x")] == []
