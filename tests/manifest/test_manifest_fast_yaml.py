"""The line reader (`fastyaml`) gives exactly the documents the node composer (`yamlload`) gives,
or leaves the file to it: same values and types, same first lines, same places among the
documents (for the line of a later problem), and never a document where YAML has a problem."""

from __future__ import annotations

import math
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from manifest_support import SETTINGS, Errors, Write, load

from reconciler.manifest.fastyaml import fast_documents
from reconciler.manifest.yamlload import parse_documents

PROPS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])

KEYS = [
    "kind", "name", "spec", "a", "b", "on", "yes", "null", "1", "0x1", "x.y", "a-b", "a/b",
    "_k", "<<", "a b", "-k", "?k", "k#", "'q'", '"q"', "=", "~", "é", "K",
]  # fmt: skip
# Scalars the subset reads (of every implicit type), then ones it leaves to the composer.
GOOD = [
    "true", "True", "TRUE", "false", "yes", "No", "on", "OFF", "y", "n", "~", "null", "Null",
    "0", "7", "012", "09", "0x1F", "0o17", "0b11", "1_000", "-1", "+1", "-0", "1.5", "-.5",
    "+.5", ".5", "1.", "1e3", "1.0e+3", ".inf", "-.Inf", ".nan", "1:30", "190:20:30",
    "2020-01-02", "2020-1-2", "2020-01-02 10:00:00", "a b", "a  b", "a:b", "a#b",
    "'q'", "''", '""', '"d"', "'a # b'", '"a # b"', "[a, b]", "[]", "[ ]", "{a: 1}", "{}",
    "{ }", "[-1, .5, true, ~]", "['x', \"y\"]", "[a b, c]", "${VAR}", "$x", "$${X}", "x${Y}z",
    "é", "Ünïcode", "a\u00a0b", "a,b", "a]", "a}", "cam-05800", "show-1", "Starting soon",
    "1.0", "0.", "0_0", "00", "1e", "+", ".", "..", "...", "[cam-1]", "{protect: false}",
    "123456789012345678", "1234567890123456789012", "-1234567890123456789012",
]  # fmt: skip
ODD = [
    "a: b", "x:", "a #b", "a # b", "'it''s'", '"e\\n"', "'a'#c", "'unclosed", '"a"b',
    "[a,,b]", "[a, b,]", "[a, [b]]", "{a: [1]}", "{a:1}", "{a: 1, a: 2}", "{a}", "['a,b']",
    "[a:b]", "[a #b]", "&x a", "*x", "!!str 1", "!t x", "|", ">", "%x", "@x", "`x", "a\tb",
    "a\r", "\ufeff", "\x85", "\u2028", "-x", "--x", "-", "- x", "?x", ":x", "# c", "x # c",
    "[a] # c", "'a' # c", "2020-13-45", "=", "<<", "---",
]  # fmt: skip
SCALARS = GOOD + ODD


@st.composite
def lines(draw: st.DrawFn) -> str:
    """One line of almost any shape the subset knows, or does not."""
    indent = " " * draw(st.sampled_from([0, 0, 0, 1, 2, 2, 2, 4, 4, 6]))
    key, value = draw(st.sampled_from(KEYS)), draw(st.sampled_from(SCALARS))
    comment = draw(st.sampled_from(["", "", "", " # note", "  #", "#x", " # $x"]))
    return draw(
        st.sampled_from(
            [
                f"{indent}{key}: {value}{comment}",
                f"{indent}{key}:{comment}",
                f"{indent}{key}:  {value}  ",
                f"{indent}{key}:{value}",
                f"{indent}- {value}{comment}",
                f"{indent}-{comment}",
                f"{indent}- {key}: {value}",
                "---",
                "---" + comment,
                f"--- {value}",
                f"{indent}---",
                "...",
                f"{indent}# {value}",
                "",
                indent,
                f"{indent}{value}",
                "%YAML 1.1",
                "\t" + key + ": x",
            ]
        )
    )


def scalars(odd: bool) -> st.SearchStrategy[str]:
    """Scalars the subset reads, and with `odd` some it does not."""
    return st.sampled_from(SCALARS) if odd else st.sampled_from(GOOD)


@st.composite
def block(draw: st.DrawFn, indent: int = 0, depth: int = 0, odd: bool = True) -> list[str]:
    """A mapping in the subset's own style (nested blocks, lists, flows); with `odd`, some
    lines and values it does not read."""
    out: list[str] = []
    pad = " " * indent
    for key in draw(st.lists(st.sampled_from(KEYS[:12]), min_size=1, max_size=5, unique=True)):
        kind = draw(st.sampled_from(["scalar"] * 4 + ["map", "map", "list", "empty", "noise"]))
        kind = "scalar" if kind == "noise" and not odd else kind
        if kind == "map" and depth < 3:
            out.append(f"{pad}{key}:")
            out.extend(draw(block(indent + draw(st.sampled_from([1, 2, 4])), depth + 1, odd)))
        elif kind == "list":
            out.append(f"{pad}{key}:")
            at = pad + " " * draw(st.sampled_from([0, 2]))
            out.extend(f"{at}- {v}" for v in draw(st.lists(scalars(odd), max_size=3)))
        elif kind == "empty":
            out.append(f"{pad}{key}:")
        elif kind == "noise":
            out.append(draw(lines()))
        else:
            out.append(f"{pad}{key}: {draw(scalars(odd))}{draw(st.sampled_from(['', ' # c']))}")
    return out


@st.composite
def texts(draw: st.DrawFn, odd: bool = True) -> str:
    """Documents in the subset's style; with `odd`, some of any shape."""
    parts: list[str] = []
    for _ in range(draw(st.integers(1, 4))):
        parts.extend(draw(st.sampled_from([[], ["---"], ["---"], ["# head", "---"]])))
        random_lines = odd and draw(st.integers(0, 3)) == 0
        parts.extend(draw(st.lists(lines())) if random_lines else draw(block(odd=odd)))
    return "\n".join(parts) + draw(st.sampled_from(["", "\n", "\n\n"]))


def typed(value: Any) -> Any:
    """The value with every type spelled out: True == 1 and nan != nan would hide a difference."""
    if isinstance(value, dict):
        return ("map", [(k, typed(v)) for k, v in value.items()])
    if isinstance(value, list):
        return ("list", [typed(v) for v in value])
    if isinstance(value, float) and math.isnan(value):
        return ("float", "nan")
    return (type(value).__name__, value)


def assert_same_documents(text: str) -> bool:
    """Whether the line reader read `text`; if it did, it gave what the composer gives."""
    fast = fast_documents(text, "m.yaml")
    if fast is None:
        return False
    docs, problems, read_all = parse_documents(text, "m.yaml")
    assert problems == [] and read_all, "the line reader accepted a text with a YAML problem"
    assert [(d.line, d.node_index, typed(d.value)) for d in fast] == [
        (d.line, d.node_index, typed(d.value)) for d in docs
    ]
    # It may run ${VAR} substitution on more documents (which changes nothing), never on fewer.
    assert all(f.has_dollar or not d.has_dollar for f, d in zip(fast, docs, strict=True))
    assert all(d.reported == frozenset() for d in fast)
    return True


@PROPS
@given(texts(odd=False))
def test_the_line_reader_reads_what_the_composer_reads(text: str) -> None:
    assert_same_documents(text)


@PROPS
@given(texts())
def test_odd_lines_and_values_are_read_alike_or_left_to_the_composer(text: str) -> None:
    assert_same_documents(text)


@PROPS
@given(st.lists(lines(), max_size=12).map("\n".join))
def test_any_lines_are_read_alike_or_left_to_the_composer(text: str) -> None:
    assert_same_documents(text)


def test_the_common_shapes_take_the_line_reader() -> None:
    # The property tests above would pass with a reader that gives up on everything.
    text = (
        "# a comment\nkind: Stream   # trailing\nname: cam-1\npolicy: {protect: true}\n"
        "spec:\n  name: 'Studio #1'\n  dvr_duration: 3600\n  uri: \"rtmp://x/y\"\n"
        "  client_entity_data:\n    team: t1\n    tags:\n    - a\n    - 2\n  active: yes\n"
        "---\n---\nkind: Broadcast\nname: show-1\nspec:\n  streams: [cam-1, 'cam-2']\n"
        "  pending_message: ${MESSAGE}\n  status:\n"
    )
    assert assert_same_documents(text)
    docs = fast_documents(text, "m.yaml")
    assert docs is not None
    assert [(d.line, d.node_index, d.has_dollar) for d in docs] == [(2, 0, False), (17, 2, True)]
    assert docs[1].value["spec"] == {
        "streams": ["cam-1", "cam-2"],
        "pending_message": "${MESSAGE}",
        "status": None,
    }


def test_outside_the_subset_the_composer_reads_the_file() -> None:
    for text in [
        "a: 1\na: 2\n",  # a duplicate key: the composer's builder reports it
        "a: &x 1\nb: *x\n",
        "a: |\n  text\n",
        "a: one\n  two\n",  # a plain scalar over two lines
        "a:\n\tb: 1\n",
        "a: 1\r\nb: 2\r\n",
        "a: '1'\n...\n",
        "- a\n",
        "a: 2020-13-45\n",  # looks like a date, is not one
    ]:
        assert fast_documents(text, "m.yaml") is None, text


STUDIO = """\
# streams of studio A
---
---
kind: Stream   # the first one
name: a
spec:
  # the encoder
  dvr_enabled: true
  dvr_duration: 5
---
kind: Stream
name: b
spec: {activ: true}
---
# a comment
kind: Stream
name: a
policy:
  protect: yes
"""


def test_problems_in_documents_the_line_reader_read_name_their_lines(errors: Errors) -> None:
    # Empty documents and comments in front: the line of a field is looked up in the right one.
    assert fast_documents(SETTINGS + STUDIO, "m.yaml") is not None
    assert errors(STUDIO) == [
        "m.yaml:12: spec.dvr_duration: must be between 30 and 14400 seconds (got 5)",
        "m.yaml:16: spec.activ: unknown field; did you mean 'active'?",
        "m.yaml:20: name: duplicate Stream 'a' (first declared at m.yaml:7); keys are unique "
        "per kind",
    ]


def test_a_file_outside_the_subset_reports_every_problem_as_before(errors: Errors) -> None:
    # One duplicate key sends the whole file to the composer, which finds the rest as well.
    text = STUDIO + "  protect: no\n"
    assert fast_documents(SETTINGS + text, "m.yaml") is None
    assert errors(text) == [
        "m.yaml:12: spec.dvr_duration: must be between 30 and 14400 seconds (got 5)",
        "m.yaml:16: spec.activ: unknown field; did you mean 'active'?",
        "m.yaml:20: name: duplicate Stream 'a' (first declared at m.yaml:7); keys are unique "
        "per kind",
        "m.yaml:23: policy.protect: duplicate key (first at line 22): YAML would silently keep "
        "only the last one; remove one of them",
    ]


def test_variables_are_substituted_in_documents_the_line_reader_read(write: Write) -> None:
    text = "kind: Stream\nname: a  # $HOME is not a variable\nspec:\n  uri: rtmp://${HOST}/x\n"
    assert fast_documents(text, "m.yaml") is not None
    state = load(write(text), set_name="t", environ={"HOST": "origin.example"})
    assert state.streams["a"].fields == {"name": "a", "uri": "rtmp://origin.example/x"}


def test_a_value_python_cannot_convert_is_reported_as_before(errors: Errors) -> None:
    # 5,000 digits: Python refuses to convert so long a number (the composer's message says so).
    problems = errors(f"kind: Stream\nname: a\nspec:\n  client_user_id: {'9' * 5000}\n")
    assert len(problems) == 1
    assert problems[0].startswith("m.yaml:7: spec.client_user_id: cannot read this value: ")
