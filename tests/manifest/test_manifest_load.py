"""The happy path of every kind, env substitution, directories, and the YAML loader in use."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st
from manifest_support import Errors, Write, load

from reconciler.errors import ManifestError
from reconciler.manifest import load_manifests, yamlload
from reconciler.model.desired import (
    CleanupPolicy,
    DeletionPolicy,
    DesiredBroadcast,
    DesiredStream,
    ResourcePolicy,
    Settings,
    Source,
    UsersSource,
)

FULL_STREAM = """\
kind: Settings
name: tutorial
---
kind: Stream
name: studio-a
adopt: 320423
policy: {protect: true, deletion: orphan, allow_live_changes: true}
spec:
  name: Studio A
  active: true
  pull: false
  uri: null
  srt_passphrase: ${STUDIO_A_SRT}
  auto_record: false
  record_type: origin
  hls_mpegts_endlist_tag: true
  dvr_enabled: true
  dvr_duration: 3600
  cdn_id: null
  client_user_id: 42
  client_entity_data: {team: sports, tags: [a, b]}
  html_overlay: false
  quality_set_id: null
  projection: regular
  transcoding_region: ix1
  recording: true
"""


def test_stream_with_every_field(write: Write) -> None:
    state = load(write(FULL_STREAM), environ={"STUDIO_A_SRT": "s3cret-pass-phrase"})
    assert state.streams == {
        "studio-a": DesiredStream(
            key="studio-a",
            fields={
                "name": "Studio A",
                "active": True,
                "pull": False,
                "uri": None,
                "srt_passphrase": "s3cret-pass-phrase",
                "auto_record": False,
                "record_type": "origin",
                "hls_mpegts_endlist_tag": True,
                "dvr_enabled": True,
                "dvr_duration": 3600,
                "cdn_id": None,
                "client_user_id": 42,
                "html_overlay": False,
                "quality_set_id": None,
                "projection": "regular",
                "transcoding_region": "ix1",
            },
            user_entity_data={"team": "sports", "tags": ["a", "b"]},
            recording=True,
            adopt_id=320423,
            policy=ResourcePolicy(
                protect=True, deletion=DeletionPolicy.ORPHAN, allow_live_changes=True
            ),
            source=Source("m.yaml", 4),
        )
    }
    assert next(iter(state.streams["studio-a"].fields)) == "name"


def test_minimal_stream_declares_only_its_name(write: Write) -> None:
    state = load(write("kind: Stream\nname: studio-b\n"), set_name="t")
    assert state.streams["studio-b"] == DesiredStream(
        key="studio-b", fields={"name": "studio-b"}, source=Source("m.yaml", 1)
    )
    assert state.settings == Settings(set_name="t")


def test_client_entity_data_null_or_empty_means_none_of_my_keys(write: Write) -> None:
    path = write(
        "kind: Stream\nname: a\nspec: {client_entity_data: null}\n---\n"
        "kind: Stream\nname: b\nspec: {client_entity_data: {}}\n"
    )
    state = load(path, set_name="t")
    assert state.streams["a"].user_entity_data == {}
    assert state.streams["b"].user_entity_data == {}
    assert "client_entity_data" not in state.streams["a"].fields


def test_broadcast(write: Write) -> None:
    path = write(
        """\
        kind: Stream
        name: studio-a
        ---
        kind: Stream
        name: studio-b
        ---
        kind: Broadcast
        name: weekly-show
        adopt: 192470
        policy: {protect: false, deletion: delete, pause_on_interruption: true}
        spec:
          name: Weekly show
          status: pending
          streams: [studio-b, studio-a]
          pending_message: Please wait ...
          share_url: ""
          custom_iframe_url: ""
          show_dvr_after_finish: false
          ad_id: null
          player_id: 14
          poster: null
        ---
        kind: Broadcast
        name: plain
        spec: {streams: [studio-a]}
        """
    )
    state = load(path, set_name="t")
    assert state.broadcasts == {
        "weekly-show": DesiredBroadcast(
            key="weekly-show",
            fields={
                "name": "Weekly show",
                "status": "pending",
                "pending_message": "Please wait ...",
                "share_url": "",
                "custom_iframe_url": "",
                "show_dvr_after_finish": False,
                "ad_id": None,
                "player_id": 14,
                "poster": None,
            },
            stream_keys=("studio-b", "studio-a"),
            adopt_id=192470,
            policy=ResourcePolicy(),
            pause_on_interruption=True,
            source=Source("m.yaml", 7),
        ),
        "plain": DesiredBroadcast(
            key="plain",
            fields={"name": "plain"},  # no status: not declared, the server's choice
            stream_keys=("studio-a",),
            source=Source("m.yaml", 23),
        ),
    }


def test_cleanup_with_a_users_file_relative_to_the_manifest(write: Write, workdir: Path) -> None:
    write("42\n", "policies/users.txt")
    path = write(
        """\
        kind: Cleanup
        name: stale-user-streams
        spec:
          idle_for: 1w2d3h4m5s
          active_users: {file: users.txt}
          name_pattern: "user-*"
          max_deletions: 20
          delete_recordings: true
        ---
        kind: Cleanup
        name: by-url
        spec:
          idle_for: 30d
          active_users: {url: "https://example.test/active-users"}
        """,
        "policies/cleanup.yaml",
    )
    state = load(path, set_name="t")
    assert state.cleanups == (
        CleanupPolicy(
            key="stale-user-streams",
            idle_for=timedelta(weeks=1, days=2, hours=3, minutes=4, seconds=5),
            active_users=UsersSource(file=str(workdir.resolve() / "policies" / "users.txt")),
            name_pattern="user-*",
            max_deletions=20,
            delete_recordings=True,
            source=Source("policies/cleanup.yaml", 1),
        ),
        CleanupPolicy(
            key="by-url",
            idle_for=timedelta(days=30),
            active_users=UsersSource(url="https://example.test/active-users"),
            source=Source("policies/cleanup.yaml", 10),
        ),
    )


def test_settings(write: Write) -> None:
    path = write(
        "# the set\nkind: Settings\nname: tutorial\nspec:\n  prune: false\n"
        "  allow_empty_prune: true\n  max_deletions: 3\n  max_deletion_percent: 50\n"
    )
    assert load(path, set_name="tutorial").settings == Settings(
        set_name="tutorial",
        prune=False,
        allow_empty_prune=True,
        max_deletions=3,
        max_deletion_percent=50.0,
        source=Source("m.yaml", 2),
    )


def test_environment_substitution(write: Write, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(
        """\
        kind: Stream
        name: a
        spec:
          uri: "rtmp://${HOST}/live/$${NOT_A_VAR} costs $5"
          client_entity_data: {owner: "${OWNER}", note: "${OWNER}-${OWNER}"}
        """
    )
    state = load(path, set_name="t", environ={"HOST": "origin.example", "OWNER": "ann"})
    assert state.streams["a"].fields["uri"] == "rtmp://origin.example/live/${NOT_A_VAR} costs $5"
    assert state.streams["a"].user_entity_data == {"owner": "ann", "note": "ann-ann"}

    # Without `environ`, the process environment is read.
    monkeypatch.setenv("HOST", "from-env")
    monkeypatch.setenv("OWNER", "bob")
    state = load_manifests([path], set_name="t")
    assert state.streams["a"].fields["uri"].startswith("rtmp://from-env/")


def test_substituted_text_never_becomes_yaml(write: Write) -> None:
    path = write("kind: Stream\nname: a\nspec:\n  name: ${TITLE}\n")
    state = load(path, set_name="t", environ={"TITLE": "x\nactive: true"})
    assert state.streams["a"].fields == {"name": "x\nactive: true"}


def test_directories_are_read_recursively_in_order(write: Write) -> None:
    write("kind: Settings\nname: t\n", "m/settings.yaml")
    write("kind: Stream\nname: b\n---\n\n---\n# only a comment\n---\nkind: Stream\nname: a\n",
          "m/z/streams.yml")  # fmt: skip
    write("kind: Stream\nname: c\n", "m/a/more.yaml")
    write("kind: Stream\nname: ignored\n", "m/notes.txt")
    write("kind: Stream\nname: hidden\n", "m/.git/x.yaml")
    write("kind: Stream\nname: direct\n", "extra.manifest")  # a file given by name: any extension
    state = load("m", "extra.manifest", "m/a/more.yaml")  # more.yaml is read once
    assert list(state.streams) == ["c", "b", "a", "direct"]
    assert state.streams["a"].source == Source("m/z/streams.yml", 8)


def test_yaml_features_that_users_rely_on(write: Write) -> None:
    path = write(
        """\
        kind: Stream
        name: b
        spec:
          <<: {dvr_enabled: true, dvr_duration: 7200}
          dvr_duration: 60
          name: "on"
          client_entity_data: {a: &shared [1, 2], b: *shared, on: yes}
        """
    )
    state = load(path, set_name="t")
    assert state.streams["b"].fields == {"name": "on", "dvr_enabled": True, "dvr_duration": 60}
    assert state.streams["b"].user_entity_data == {"a": [1, 2], "b": [1, 2], "on": True}


def test_plain_quoted_and_tagged_scalars_read_as_yaml_says(write: Write) -> None:
    path = write(
        """\
        kind: Stream
        name: c
        spec:
          name: '123'
          dvr_duration: !!int "60"
          client_entity_data:
            plain: [1, true, ~, 1.5, on, x, ""]
            quoted: ['1', "true", 'null', '1.5', "on", '=']
            tagged: [!!str 1, !!str true, !!float '2', !!null '', !!bool "yes"]
            empty:
            '<<': not a merge
            "on": {<<: {a: 1}, "<<": quoted key}
        """
    )
    state = load(path, set_name="t")
    assert state.streams["c"].fields == {"name": "123", "dvr_duration": 60}
    assert state.streams["c"].user_entity_data == {
        "plain": [1, True, None, 1.5, True, "x", ""],
        "quoted": ["1", "true", "null", "1.5", "on", "="],
        "tagged": ["1", "true", 2.0, None, True],
        "empty": None,
        "<<": "not a merge",
        "on": {"a": 1, "<<": "quoted key"},
    }


def test_merge_keys_from_aliases(write: Write) -> None:
    path = write(
        """\
        kind: Stream
        name: m
        spec:
          client_entity_data:
            base: &base {tier: gold, n: 1}
            zone: &zone {zone: eu, n: 3}
            one: {<<: *base, n: 2}
            two:
              <<: [*base, *zone]
              extra: true
            nested: {<<: {<<: *zone, deep: 1}}
        """
    )
    state = load(path, set_name="t")
    assert state.streams["m"].user_entity_data == {
        "base": {"tier": "gold", "n": 1},
        "zone": {"zone": "eu", "n": 3},
        "one": {"tier": "gold", "n": 2},
        "two": {"zone": "eu", "n": 1, "tier": "gold", "extra": True},
        "nested": {"zone": "eu", "n": 3, "deep": 1},
    }


def test_documents_holding_only_null_are_skipped(write: Write, errors: Errors) -> None:
    path = write("kind: Settings\nname: t\n---\n~\n---\nnull\n---\n!!null ''\n---\nNULL\n")
    assert load(path).streams == {}
    assert errors("'null'\n---\n!!str\n") == [
        "m.yaml:4: a document must be a mapping with `kind`, `name` and `spec`",
        "m.yaml:6: a document must be a mapping with `kind`, `name` and `spec`",
    ]


def test_problems_in_merged_mappings_and_odd_tags_name_their_lines(errors: Errors) -> None:
    assert errors(
        """\
        kind: Stream
        name: a
        spec:
          <<: {dvr_duration: 3, activ: true}
          pull: 'yes'
        ---
        kind: Stream
        name: b
        spec:
          <<: [{active: true}, 3]
        ---
        kind: Stream
        name: c
        spec: {<<: {a: 1}, b: 2, b: 3}
        ---
        kind: Stream
        name: d
        spec:
          client_entity_data: {k: [=, !!value x], <<: 3}
        """
    ) == [
        "m.yaml:6: spec.activ: unknown field; did you mean 'active'?",
        "m.yaml:6: spec.dvr_duration: must be between 30 and 14400 seconds (got 3)",
        "m.yaml:8: spec.pull: expected true or false, got a string: remove the quotes",
        "m.yaml:13: spec: invalid merge key: expected a mapping for merging, but found scalar",
        "m.yaml:17: spec.a: unknown field; known fields: name, active, pull, uri, "
        "srt_passphrase, auto_record, record_type, hls_mpegts_endlist_tag, dvr_enabled, "
        "dvr_duration, cdn_id, client_user_id, client_entity_data, html_overlay, "
        "quality_set_id, projection, transcoding_region, recording",
        "m.yaml:17: spec.b: duplicate key (first at line 17): YAML would silently keep only "
        "the last one; remove one of them",
        "m.yaml:22: spec.client_entity_data: invalid merge key: expected a mapping or list of "
        "mappings for merging, but found scalar",
        "m.yaml:22: spec.client_entity_data.k[0]: unsupported YAML tag tag:yaml.org,2002:value; "
        "remove it",
        "m.yaml:22: spec.client_entity_data.k[1]: unsupported YAML tag tag:yaml.org,2002:value; "
        "remove it",
    ]


@given(st.text(alphabet="0123456789_+-.:eExob٣nNtTyY~ ", max_size=24) | st.integers().map(str))
@example("010")
@example("1٣")
@example("1_000")
@example("9" * 30)
@example("9" * 5000)
@settings(max_examples=300)
def test_plain_scalars_read_as_pyyaml_reads_them(text: str) -> None:
    # The loader's shortcuts (first characters, decimal integers, values seen before) must give
    # what pyyaml's own resolver and constructor give, twice in a row.
    source = f"k:\n- {text}\n- {text}\n"
    try:
        expected = yaml.load(source, Loader=yaml.CSafeLoader)
    except yaml.YAMLError:
        assume(False)
    except ValueError:  # `0b`, or more digits than int() reads: a problem, not a traceback
        assert yamlload.parse_documents(source, "m.yaml")[1]
        return
    # Keys stay as written (`on:` is "on"): only scalars are compared.
    assume(not any(isinstance(item, dict | list) for item in expected["k"]))
    docs, problems, _ = yamlload.parse_documents(source, "m.yaml")
    assert problems == []
    assert [doc.value for doc in docs] == [expected]
    assert [type(v) for v in docs[0].value["k"]] == [type(v) for v in expected["k"]]


def test_the_c_loader_is_used_when_available() -> None:
    assert yaml.__with_libyaml__, "pyyaml without libyaml: loading is several times slower"
    assert issubclass(yamlload.Loader, yaml.CSafeLoader)


def test_the_pure_python_loader_gives_the_same_answers(
    write: Write, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = write(FULL_STREAM, "good.yaml")
    bad = write("kind: Stream\nname: a\nspec: {dvr_duratoin: 1, active: 'no'}\n", "bad.yaml")
    env = {"STUDIO_A_SRT": "s3cret-pass-phrase"}
    fast_state = load(good, environ=env)
    with pytest.raises(ManifestError) as fast_error:
        load(bad, set_name="t")
    monkeypatch.setattr(yamlload, "Loader", yamlload.make_loader(yaml.SafeLoader))
    assert load(good, environ=env) == fast_state
    with pytest.raises(ManifestError) as slow_error:
        load(bad, set_name="t")
    assert slow_error.value.problems == fast_error.value.problems


def test_an_empty_set_is_valid(write: Write) -> None:
    state = load(write("kind: Settings\nname: t\n---\n"))
    assert (state.streams, state.broadcasts, state.cleanups) == ({}, {}, ())
