"""Every kind of bad input gets its exact `path:line: field: message`, all problems at once."""

from __future__ import annotations

from pathlib import Path

import pytest
from manifest_support import Errors, Write, load

from reconciler.errors import ManifestError, ReconcilerError
from reconciler.manifest import load_manifests

# The `errors` fixture puts a 3-line Settings document first: the user's text starts at line 4.


def test_unknown_field_suggests_the_close_name(errors: Errors) -> None:
    assert errors(
        """\
        kind: Stream
        name: studio-a
        spec:
          dvr_duratoin: 60
        """
    ) == ["m.yaml:7: spec.dvr_duratoin: unknown field; did you mean 'dvr_duration'?"]


def test_unknown_field_in_the_wrong_block_says_where_it_belongs(errors: Errors) -> None:
    assert errors(
        """\
        kind: Broadcast
        name: show
        protect: true
        spec:
          streams: [studio-a]
          adopt: 12
        ---
        kind: Stream
        name: studio-a
        """
    ) == [
        "m.yaml:6: protect: unknown field; it belongs under `policy:`",
        "m.yaml:9: spec.adopt: unknown field; it belongs at the top level",
    ]


def test_fields_the_format_expresses_differently_get_a_hint(errors: Errors) -> None:
    assert errors(
        """\
        kind: Broadcast
        name: show
        spec:
          stream_ids: [320423]
          streams: [studio-a]
        ---
        kind: Stream
        name: studio-a
        spec: {broadcast_ids: [1]}
        """
    ) == [
        "m.yaml:7: spec.stream_ids: unknown field; reference streams by manifest key with "
        "`streams: [key, ...]`",
        "m.yaml:12: spec.broadcast_ids: unknown field; a stream's broadcasts are declared on "
        "each Broadcast's `streams`",
    ]


def test_unknown_field_without_a_close_name_lists_the_known_ones(errors: Errors) -> None:
    assert errors("kind: Cleanup\nname: c\nspec: {idle_for: 1d, active_users: {path: x}}\n") == [
        "m.yaml:6: spec.active_users.path: unknown field; known fields: file, url"
    ]


def test_wrong_types_are_not_coerced(errors: Errors) -> None:
    assert errors(
        """\
        kind: Stream
        name: studio-a
        spec:
          dvr_duration: "3600"
          active: "true"
          name: 42
          client_user_id: 1.5
          uri: [a, b]
          client_entity_data: team
        """
    ) == [
        "m.yaml:7: spec.dvr_duration: expected an integer, got a string: remove the quotes",
        "m.yaml:8: spec.active: expected true or false, got a string: remove the quotes",
        "m.yaml:9: spec.name: expected a string, got an integer: put it in quotes",
        "m.yaml:10: spec.client_user_id: expected an integer, got a number",
        "m.yaml:11: spec.uri: expected a string, got a list",
        "m.yaml:12: spec.client_entity_data: expected a mapping, got a string",
    ]


def test_spec_that_is_not_a_mapping(errors: Errors) -> None:
    assert errors("kind: Stream\nname: a\nspec: [active]\n") == [
        "m.yaml:6: spec: expected a mapping, got a list"
    ]


def test_values_outside_their_range_or_choices(errors: Errors) -> None:
    assert errors(
        """\
        kind: Stream
        name: studio-a
        spec: {dvr_duration: 10, projection: VR360, record_type: full}
        ---
        kind: Broadcast
        name: show
        spec: {status: Live, streams: [studio-a]}
        """
    ) == [
        "m.yaml:6: spec.dvr_duration: must be between 30 and 14400 seconds (got 10)",
        "m.yaml:6: spec.projection: 'VR360' is not allowed; use one of: regular, vr360, vr180, "
        "vr360tb; did you mean 'vr360'?",
        "m.yaml:6: spec.record_type: 'full' is not allowed; use one of: origin, transcoded",
        "m.yaml:10: spec.status: 'Live' is not allowed; use one of: pending, live, paused, "
        "finished; did you mean 'live'?",
    ]


def test_explicit_null_for_a_non_nullable_field(errors: Errors) -> None:
    assert errors("kind: Stream\nname: a\nspec: {active: null, uri: null}\n") == [
        "m.yaml:6: spec.active: must not be null; leave the field out to keep the platform's value"
    ]


def test_invalid_keys(errors: Errors) -> None:
    assert errors("kind: Stream\nname: Studio A\n---\nkind: Stream\n") == [
        "m.yaml:5: name: 'Studio A' is not a valid key: use 1-63 lowercase letters, digits, "
        "'.', '_' or '-', starting and ending with a letter or digit",
        "m.yaml:7: name: required: add `name: <key>` (use 1-63 lowercase letters, digits, '.', "
        "'_' or '-', starting and ending with a letter or digit)",
    ]


def test_duplicate_yaml_key_inside_a_mapping(errors: Errors) -> None:
    assert errors(
        """\
        kind: Stream
        name: studio-a
        spec:
          active: false
          dvr_enabled: true
          active: true
        """
    ) == [
        "m.yaml:9: spec.active: duplicate key (first at line 7): YAML would silently keep only "
        "the last one; remove one of them"
    ]


def test_duplicate_key_per_kind_names_the_first_location(write: Write) -> None:
    write("kind: Settings\nname: t\n---\nkind: Stream\nname: studio-a\n", "a.yaml")
    write("kind: Stream\nname: studio-a\n---\nkind: Broadcast\nname: studio-a\n"
          "spec: {streams: [studio-a]}\n", "b.yaml")  # fmt: skip
    with pytest.raises(ManifestError) as caught:
        load(".")
    assert [str(p) for p in caught.value.problems] == [
        "b.yaml:2: name: duplicate Stream 'studio-a' (first declared at a.yaml:4); keys are "
        "unique per kind"
    ]


def test_unknown_stream_reference_suggests_a_key(errors: Errors) -> None:
    assert errors(
        """\
        kind: Stream
        name: studio-a
        ---
        kind: Broadcast
        name: show
        spec:
          streams: [studio-a, studio-b, lobby, studio-a]
        """
    ) == [
        "m.yaml:10: spec.streams[1]: no Stream 'studio-b' in this set; did you mean 'studio-a'?",
        "m.yaml:10: spec.streams[2]: no Stream 'lobby' in this set; declare it with `kind: Stream`",
        "m.yaml:10: spec.streams[3]: stream 'studio-a' is listed twice; remove one",
    ]


def test_reference_to_a_stream_with_its_own_problem_is_not_dangling(errors: Errors) -> None:
    # Only the stream's real problem is reported, not a knock-on "no Stream" on the broadcast.
    assert errors(
        "kind: Stream\nname: studio-a\nspec: {activ: true}\n---\n"
        "kind: Broadcast\nname: show\nspec: {streams: [studio-a]}\n"
    ) == ["m.yaml:6: spec.activ: unknown field; did you mean 'active'?"]


@pytest.mark.parametrize("streams", ["streams: []", "name: Show"])
def test_broadcast_without_streams(errors: Errors, streams: str) -> None:
    assert errors(f"kind: Broadcast\nname: show\nspec: {{{streams}}}\n") == [
        "m.yaml:6: spec.streams: a broadcast needs at least one stream of this set (its "
        "ownership is recorded on its streams): add `streams: [<stream key>]`"
    ]


def test_the_same_adopt_id_twice_in_a_kind(errors: Errors) -> None:
    assert errors(
        """\
        kind: Stream
        name: a
        adopt: 320423
        ---
        kind: Stream
        name: b
        adopt: 320423
        ---
        kind: Broadcast
        name: c
        adopt: 320423
        spec: {streams: [a]}
        """
    ) == [
        "m.yaml:10: adopt: stream 320423 is already adopted by 'a' at m.yaml:4; one object can "
        "have only one manifest"
    ]


def test_adopt_must_be_a_positive_integer(errors: Errors) -> None:
    assert errors(
        "kind: Stream\nname: a\nadopt: '320423'\n---\nkind: Stream\nname: b\nadopt: 0\n"
    ) == [
        "m.yaml:6: adopt: expected an integer, got a string: remove the quotes",
        "m.yaml:10: adopt: must be greater than 0 (got 0)",
    ]


def test_cleanup_needs_an_age_bound_and_a_users_source(errors: Errors, write: Write) -> None:
    write("1\n", "users.txt")
    assert errors(
        """\
        kind: Cleanup
        name: no-age
        spec: {active_users: {file: users.txt}}
        ---
        kind: Cleanup
        name: bad-age
        spec: {idle_for: 30 days}
        ---
        kind: Cleanup
        name: zero-age
        spec: {idle_for: 0d}
        ---
        kind: Cleanup
        name: empty-users
        spec: {idle_for: 30d, active_users: {}}
        ---
        kind: Cleanup
        name: both-users
        spec: {idle_for: 30d, active_users: {file: users.txt, url: "https://x.test/u"}}
        ---
        kind: Cleanup
        name: missing-file
        spec: {idle_for: 30d, active_users: {file: gone.txt}}
        ---
        kind: Cleanup
        name: bad-url
        spec: {idle_for: 30d, active_users: {url: "ftp://x.test/u"}}
        """
    ) == [
        "m.yaml:6: spec.idle_for: required: a Cleanup without an age bound is refused; add "
        "e.g. `idle_for: 30d`",
        "m.yaml:10: spec.idle_for: '30 days' is not a duration: write a number and a unit "
        "(s, m, h, d, w), for example 30d or 1d12h",
        "m.yaml:14: spec.idle_for: must be longer than zero, e.g. 30d",
        "m.yaml:18: spec.active_users: set exactly one of `file` (one user id per line) or "
        "`url`, e.g. `active_users: {file: users.txt}`",
        "m.yaml:22: spec.active_users: set exactly one of `file` (one user id per line) or "
        "`url`, e.g. `active_users: {file: users.txt}`",
        f"m.yaml:26: spec.active_users.file: file not found: {Path('gone.txt').resolve()} "
        "(a relative path is read from the manifest's directory)",
        "m.yaml:30: spec.active_users.url: must be an http:// or https:// URL",
    ]


def test_unknown_or_missing_kind(errors: Errors) -> None:
    assert errors("kind: stream\nname: a\n---\nkind: Job\nname: b\n---\nname: c\n---\n- a\n") == [
        "m.yaml:4: kind: unknown kind 'stream'; did you mean 'Stream'?",
        "m.yaml:7: kind: unknown kind 'Job'; use one of Settings, Stream, Broadcast, Cleanup",
        "m.yaml:10: add `kind:` (one of Settings, Stream, Broadcast, Cleanup)",
        "m.yaml:12: a document must be a mapping with `kind`, `name` and `spec`",
    ]


def test_srt_passphrase_rules_never_echo_the_secret(errors: Errors) -> None:
    problems = errors(
        """\
        kind: Stream
        name: a
        spec: {srt_passphrase: short}
        ---
        kind: Stream
        name: b
        spec: {srt_passphrase: has a space inside}
        ---
        kind: Stream
        name: c
        spec:
          srt_passphrase: ${PASS}
        """,
        environ={"PASS": "sécret-passphrase"},
    )
    assert problems == [
        "m.yaml:6: spec.srt_passphrase: must be 10 to 80 printable ASCII characters without "
        "spaces (got 5 characters); use null to clear it",
        "m.yaml:10: spec.srt_passphrase: must be 10 to 80 printable ASCII characters without "
        "spaces (got 18 characters, including spaces); use null to clear it",
        "m.yaml:15: spec.srt_passphrase: must be 10 to 80 printable ASCII characters without "
        "spaces (got 17 characters, including characters outside printable ASCII); use null "
        "to clear it",
    ]
    assert not any(s in "\n".join(problems) for s in ("short", "space inside", "sécret"))


def test_srt_passphrase_of_the_wrong_type_is_not_echoed(errors: Errors) -> None:
    problems = errors("kind: Stream\nname: a\nspec: {srt_passphrase: 12345678901}\n")
    assert problems == [
        "m.yaml:6: spec.srt_passphrase: expected a string, got an integer: put it in quotes"
    ]


def test_client_entity_data_reserved_key_and_json(errors: Errors) -> None:
    assert errors(
        """\
        kind: Stream
        name: a
        spec:
          client_entity_data: {reconciler: {set: other}}
        ---
        kind: Stream
        name: b
        spec:
          client_entity_data: {since: 2024-01-01}
        """
    ) == [
        "m.yaml:7: spec.client_entity_data: the key 'reconciler' is reserved for the "
        "reconciler's ownership marker; rename it",
        "m.yaml:12: spec.client_entity_data: must be plain JSON (strings, numbers, booleans, "
        "null, lists, mappings): Object of type date is not JSON serializable; quote dates and "
        "other special values",
    ]


def test_client_entity_data_too_large_with_the_marker(errors: Errors) -> None:
    big = "x" * 4000  # fits alone, not with the marker of a stream used by two broadcasts
    problems = errors(
        f"""\
        kind: Stream
        name: studio-a
        spec:
          client_entity_data: {{notes: {big}}}
        ---
        kind: Broadcast
        name: one
        spec: {{streams: [studio-a]}}
        ---
        kind: Broadcast
        name: two
        spec: {{streams: [studio-a]}}
        """
    )
    assert len(problems) == 1
    assert problems[0].startswith("m.yaml:7: spec.client_entity_data: client_entity_data could ")
    assert problems[0].endswith(
        "characters with the ownership marker (used by 2 broadcasts); the API allows 4096: "
        "shorten your mapping or use fewer broadcasts per stream"
    )


def test_client_entity_data_that_fits_loads(write: Write) -> None:
    path = write("kind: Settings\nname: t\n---\nkind: Stream\nname: a\n"
                 f"spec: {{client_entity_data: {{notes: {'x' * 3950}}}}}\n")  # fmt: skip
    assert len(load(path).streams["a"].user_entity_data["notes"]) == 3950  # type: ignore[index]


def test_missing_environment_variable_and_bad_references(errors: Errors) -> None:
    assert errors(
        """\
        kind: Stream
        name: a
        spec:
          srt_passphrase: ${STUDIO_A_SRT}
          uri: "rtmp://${HOST:-localhost}/live ${1BAD} ${OPEN"
        """
    ) == [
        "m.yaml:7: spec.srt_passphrase: environment variable STUDIO_A_SRT is not set; export "
        "it (or write $${STUDIO_A_SRT} for a literal '${STUDIO_A_SRT}')",
        "m.yaml:8: spec.uri: invalid reference: '${' is not closed with '}'; write $${ for a "
        "literal '${'",
        "m.yaml:8: spec.uri: invalid reference: '1BAD' is not a variable name (letters, "
        "digits, _; not starting with a digit); write $${ for a literal '${'",
        "m.yaml:8: spec.uri: invalid reference: defaults like ${VAR:-x} are not supported; "
        "write $${ for a literal '${'",
    ]


def test_set_name_is_required(errors: Errors) -> None:
    assert errors("kind: Stream\nname: a\n", settings=False) == [
        "m.yaml: no set name: add a `kind: Settings` document with the set name, or pass --set-name"
    ]


def test_set_name_flag_must_agree_and_be_valid(errors: Errors) -> None:
    assert errors("kind: Stream\nname: a\n", set_name="other") == [
        "m.yaml:2: name: the set name 'tutorial' differs from --set-name 'other'; use one of "
        "them (they name the ownership scope)"
    ]
    assert errors("kind: Stream\nname: a\n", settings=False, set_name="Bad Name") == [
        "--set-name: 'Bad Name' is not a valid set name: use 1-63 lowercase letters, digits, "
        "'.', '_' or '-', starting and ending with a letter or digit"
    ]


def test_at_most_one_settings_document(errors: Errors) -> None:
    assert errors("kind: Settings\nname: tutorial\nspec: {prune: false}\n") == [
        "m.yaml:4: kind: only one Settings document per set (the first is at m.yaml:1); merge them"
    ]


def test_settings_values(errors: Errors) -> None:
    assert errors(
        "kind: Settings\nname: x\nspec: {max_deletions: -1, max_deletion_percent: 150}\n",
        settings=False,
    ) == [
        "m.yaml:3: spec.max_deletion_percent: must be between 0 and 100 (got 150)",
        "m.yaml:3: spec.max_deletions: must be at least 0 (got -1)",
    ]


def test_yaml_syntax_error_keeps_earlier_documents_and_other_files(write: Write) -> None:
    write("kind: Settings\nname: t\n---\nkind: Stream\nname: a\nspec: {active: true\n", "a.yaml")
    write("kind: Stream\nname: b\nspec:\n  pull: yes\n   uri: x\n", "b.yaml")
    with pytest.raises(ManifestError) as caught:
        load("a.yaml", "b.yaml")
    assert [str(p) for p in caught.value.problems] == [
        "a.yaml:7: YAML syntax error: did not find expected ',' or '}' (while parsing a flow "
        "mapping that starts at line 6, column 7)",
        "b.yaml:5: YAML syntax error: mapping values are not allowed in this context",
    ]


def test_unsupported_tags_and_odd_keys(errors: Errors) -> None:
    assert errors("kind: Stream\nname: a\nspec: {active: !secret x, [k]: 1}\n") == [
        "m.yaml:6: spec: mapping keys must be plain names, not collections",
        "m.yaml:6: spec.active: unsupported YAML tag !secret; remove it",
    ]


def test_values_their_tags_cannot_read(errors: Errors) -> None:
    assert errors(
        "kind: Stream\nname: a\nspec:\n  active: !!bool 'x'\n  client_entity_data:\n"
        "    t: !!timestamp 'x'\n    s: !!seq x\n    i: !!int x\n"
    ) == [
        "m.yaml:7: spec.active: cannot read this value as tag:yaml.org,2002:bool; remove the tag "
        "or fix the value",
        "m.yaml:9: spec.client_entity_data.t: cannot read this value as "
        "tag:yaml.org,2002:timestamp; remove the tag or fix the value",
        "m.yaml:10: spec.client_entity_data.s: cannot read this value as tag:yaml.org,2002:seq; "
        "remove the tag or fix the value",
        "m.yaml:11: spec.client_entity_data.i: cannot read this value: invalid literal for int() "
        "with base 10: 'x'",
    ]


def test_alias_bombs_are_refused(errors: Errors) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 7)]
    problems = errors("kind: Stream\nname: a\nspec:\n  client_entity_data:\n" + "".join(
        f"    {line}\n" for line in lines))  # fmt: skip
    assert problems == [
        "m.yaml:4: document expands to more than 200000 values or refers to itself (YAML "
        "aliases?); simplify it"
    ]


def test_missing_path_and_every_problem_of_every_file(write: Write) -> None:
    write("kind: Settings\nname: t\n---\nkind: Stream\nname: a\nspec: {activ: true}\n", "a.yaml")
    write("kind: Stream\nname: b\nspec: {pul: true}\n", "sub/b.yml")
    with pytest.raises(ManifestError) as caught:
        load(".", "nowhere")
    error = caught.value
    assert isinstance(error, ReconcilerError) and error.exit_code == 1
    assert str(error) == "\n".join(
        [
            "a.yaml:6: spec.activ: unknown field; did you mean 'active'?",
            "nowhere: no such file or directory",
            "sub/b.yml:3: spec.pul: unknown field; did you mean 'pull'?",
        ]
    )


def test_not_utf8(write: Write, workdir: Path) -> None:
    (workdir / "bin.yaml").write_bytes(b"kind: Stream\nname: \xff\n")
    with pytest.raises(ManifestError) as caught:
        load("bin.yaml", set_name="t")
    assert [str(p) for p in caught.value.problems] == [
        "bin.yaml:2:7: not UTF-8: byte 0xff (invalid start byte); re-save the file as UTF-8"
    ]


def test_no_paths() -> None:
    with pytest.raises(ManifestError) as caught:
        load()
    assert [str(p) for p in caught.value.problems] == ["<no paths>: no manifest paths given"]


def test_recording_false_contradicts_auto_record(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(
        "kind: Settings\nname: prod\n---\nkind: Stream\nname: cam\n"
        "spec:\n  auto_record: true\n  recording: false\n"
    )
    with pytest.raises(ManifestError) as caught:
        load_manifests([path])
    assert [str(p) for p in caught.value.problems] == [
        f"{path}:8: spec.recording: recording: false contradicts auto_record: true (the platform "
        "records whenever the encoder connects); drop one of them"
    ]
