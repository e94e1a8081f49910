"""Every problem in one pass: a problem is never found only after another is fixed. Bytes that are
not UTF-8 and characters YAML refuses are named by line and column; an absurd `idle_for` and a
manifest that is a dangling symlink are clear errors, never a traceback or a silent skip."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from cli_harness import Invoke
from manifest_support import Errors, Write


@pytest.fixture
def reconcile(sim: Any, workdir: Path) -> Invoke:
    return Invoke(sim)


def test_not_utf8_names_the_line_and_column_of_the_first_bad_byte(
    reconcile: Invoke, workdir: Path
) -> None:
    (workdir / "m.yaml").write_bytes(
        b"kind: Settings\nname: t\n---\nkind: Stream\nname: cam\nspec:\n"
        b"  name: \xc3\xa9t\xc3\xa9 \xe9t\xe9\n"  # UTF-8 'ete', then Latin-1 'ete'
    )
    result = reconcile("validate", "m.yaml")
    assert result.exit_code == 1
    assert result.stderr == (
        "m.yaml:7:13: not UTF-8: byte 0xe9 (invalid continuation byte); re-save the file as "
        "UTF-8\n1 problem found\n"
    )


def test_an_unterminated_quote_names_the_line_where_it_opens(
    reconcile: Invoke, workdir: Path
) -> None:
    # pyyaml finds the problem at the end of the file; its context mark is where the quote opens
    (workdir / "m.yaml").write_text(
        'kind: Stream\nname: cam\nspec:\n  name: "Studio A\n  active: true\n  pull: false\n'
    )
    result = reconcile("validate", "m.yaml")
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == (
        "m.yaml:7: YAML syntax error: found unexpected end of stream (while scanning a quoted "
        "scalar that starts at line 4, column 9)\n1 problem found\n"
    )


def test_a_character_yaml_refuses_is_named_by_line_and_column(errors: Errors) -> None:
    assert errors("kind: Stream\nname: cam\nspec:\n  name: 'bell \x07'\n") == [
        "m.yaml:7:15: U+0007 is not allowed in YAML (control characters are not allowed); remove it"
    ]


def test_documents_after_a_syntax_error_are_still_checked(errors: Errors) -> None:
    assert errors(
        "kind: Stream\nname: a\nspec: {active: true\n"
        "---\nkind: Stream\nname: b\nspec:\n  activ: true\n"
        "---\nkind: Stream\nname: b\n"
    ) == [
        "m.yaml:7: YAML syntax error: did not find expected ',' or '}' (while parsing a flow "
        "mapping that starts at line 6, column 7)",
        "m.yaml:11: spec.activ: unknown field; did you mean 'active'?",
        "m.yaml:14: name: duplicate Stream 'b' (first declared at m.yaml:8); keys are unique "
        "per kind",
    ]


def test_documents_before_a_syntax_error_name_their_lines(errors: Errors) -> None:
    # A problem found after parsing (by the model, or across documents) looks its line up in
    # the text again: the documents in front of a syntax error keep their own lines.
    assert errors(
        "kind: Stream\nname: a\nspec:\n  dvr_duration: 5\n"
        "---\nkind: Stream\nname: a\nspec:\n  pull: yes\n   uri: x\n"
        "---\nkind: Stream\nname: c\nspec: {activ: true}\n"
    ) == [
        "m.yaml:7: spec.dvr_duration: must be between 30 and 14400 seconds (got 5)",
        "m.yaml:13: YAML syntax error: mapping values are not allowed in this context",
        "m.yaml:17: spec.activ: unknown field; did you mean 'active'?",
    ]


def test_cleanup_problems_come_with_the_documents_other_problems(errors: Errors) -> None:
    assert errors(
        "kind: Cleanup\nname: stale\nspec:\n  idle_for: 0d\n  max_deletions: -1\n"
        "  active_users: {file: missing-users.txt}\n"
    ) == [
        "m.yaml:7: spec.idle_for: must be longer than zero, e.g. 30d",
        "m.yaml:8: spec.max_deletions: must be at least 0 (got -1)",
        f"m.yaml:9: spec.active_users.file: file not found: {Path.cwd() / 'missing-users.txt'} "
        "(a relative path is read from the manifest's directory)",
    ]


def test_recording_conflict_and_shared_adopt_come_with_other_problems(errors: Errors) -> None:
    assert errors(
        "kind: Stream\nname: a\nadopt: 7\nspec:\n  auto_record: true\n  recording: false\n"
        "  dvr_duration: 5\n"
        "---\nkind: Stream\nname: b\nadopt: 7\nspec: {pul: true}\n"
    ) == [
        "m.yaml:9: spec.recording: recording: false contradicts auto_record: true (the platform "
        "records whenever the encoder connects); drop one of them",
        "m.yaml:10: spec.dvr_duration: must be between 30 and 14400 seconds (got 5)",
        "m.yaml:14: adopt: stream 7 is already adopted by 'a' at m.yaml:4; one object can have "
        "only one manifest",
        "m.yaml:15: spec.pul: unknown field; did you mean 'pull'?",
    ]


def test_entity_data_size_is_checked_while_the_settings_have_a_problem(errors: Errors) -> None:
    big = "x" * 4100
    assert errors(
        "kind: Settings\nname: t\nspec: {prune: maybe}\n---\n"
        f"kind: Stream\nname: a\nspec:\n  client_entity_data: {{note: {big}}}\n",
        settings=False,
    ) == [
        "m.yaml:3: spec.prune: expected true or false, got a string",
        "m.yaml:8: spec.client_entity_data: client_entity_data could reach 4146 characters with "
        "the ownership marker (used by 0 broadcasts); the API allows 4096: shorten your mapping "
        "or use fewer broadcasts per stream",
    ]


@pytest.mark.parametrize("idle_for", ["999999999999999999999999w", "36501d", "5300w"])
def test_an_absurd_idle_for_is_bounded(reconcile: Invoke, write: Write, idle_for: str) -> None:
    write(f"kind: Settings\nname: t\n---\nkind: Cleanup\nname: c\nspec:\n  idle_for: {idle_for}\n")
    result = reconcile("validate", "m.yaml")
    assert result.exit_code == 1
    assert result.stderr == (
        "m.yaml:7: spec.idle_for: must be at most 36500d (about 100 years)\n1 problem found\n"
    )


def test_the_longest_idle_for_loads(reconcile: Invoke, write: Write) -> None:
    write("kind: Settings\nname: t\n---\nkind: Cleanup\nname: c\nspec:\n  idle_for: 36500d\n")
    result = reconcile("validate", "m.yaml")
    assert (result.exit_code, result.stderr) == (0, "")


@pytest.mark.parametrize("command", ["validate", "plan"])
def test_a_manifest_that_is_a_dangling_symlink_is_an_error(
    reconcile: Invoke, write: Write, workdir: Path, sim: Any, command: str
) -> None:
    write("kind: Settings\nname: t\n---\nkind: Stream\nname: a\n", "set/a.yaml")
    os.symlink(workdir / "moved-away.yaml", workdir / "set" / "b.yaml")
    result = reconcile(command, "set")
    assert result.exit_code == 1
    assert result.stderr == (
        f"set/b.yaml: a symlink to '{workdir / 'moved-away.yaml'}' whose target does not exist "
        "(or loops); fix the link or remove it\n1 problem found\n"
    )
    assert result.stdout == ""
    assert sim.requests() == []


def test_a_marker_alone_over_the_limit_is_reported_with_its_size(errors: Errors) -> None:
    # No client_entity_data of the user's: the size comes from the broadcasts' entries alone
    # (each recorded with the longest id), and the stream names the problem at its `name`.
    shows = [f"show-{i:02d}-" + "x" * 52 for i in range(60)]
    docs = "".join(
        f"---\nkind: Broadcast\nname: {show}\nspec: {{streams: [cam], status: pending}}\n"
        for show in shows
    )
    found = errors("kind: Stream\nname: cam\n" + docs)
    assert found == [
        "m.yaml:5: name: client_entity_data could reach 4620 characters with the ownership "
        "marker (used by 60 broadcasts); the API allows 4096: shorten your mapping or use fewer "
        "broadcasts per stream"
    ]
