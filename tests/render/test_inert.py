"""`render.inert`, the one place that makes printed values inert, checked on any text: one line,
no acting character, markdown that renders as exactly the text, fences no content can close, JSON
and YAML that load back to the exact value."""

from __future__ import annotations

import json
import re
import unicodedata

import yaml
from hypothesis import given
from hypothesis import strategies as st

from reconciler.render.inert import (
    code_block,
    escape_controls,
    json_text,
    markdown_text,
    terminal_line,
    yaml_text,
)

ACTING = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}
# Text with every hazard: controls, C1, bidi, separators, surrogates, backticks, markdown, HTML.
hostile = st.text(
    alphabet=st.one_of(
        st.characters(),
        st.sampled_from(list("`|<>&*_[]#@!~\\\n\r\x1b\x07\x9b\u202e\u2028\ud800 ")),
    ),
    max_size=60,
)


def _acting(text: str) -> list[str]:
    return [c for c in text if unicodedata.category(c) in ACTING]


@given(hostile)
def test_a_terminal_line_is_one_line_without_acting_characters(text: str) -> None:
    line = terminal_line(text)
    assert _acting(line) == []
    assert escape_controls(line) == line  # idempotent: nothing left to escape


def test_escapes_are_shown_literally() -> None:
    assert escape_controls("a\nb\x1b[2J\u202ec\td") == "a\\nb\\x1b[2J\\u202ec\\td"
    assert escape_controls("Студия №1 — live 🎥") == "Студия №1 — live 🎥"


@given(hostile)
def test_markdown_text_opens_no_structure(text: str) -> None:
    cell = markdown_text(text)
    assert _acting(cell) == [] and "\n" not in cell
    # All escaped, apart from the character references the renderer writes itself (`&#8203;`).
    bare = re.sub(r"&(#\d+|[a-z]+);", "", cell.replace("\\\\", ""))
    assert not re.search(r"(?<!\\)[|`*_\[\]#~!]", bare)
    assert not re.search(r"[<>]", cell)  # entities only: no tag, no comment
    assert not re.search(r"@[A-Za-z0-9_-]", cell)  # no mention


def test_markdown_text_examples() -> None:
    assert markdown_text("") == "-"
    assert markdown_text("a|b") == "a\\|b"
    assert markdown_text("<!-- x -->") == "&lt;\\!-- x --&gt;"
    assert markdown_text("ping @everyone") == "ping @&#8203;everyone"
    assert markdown_text("- item") == "\\- item"


@given(st.lists(hostile, max_size=5))
def test_no_content_line_closes_the_fence(lines: list[str]) -> None:
    block = code_block(lines, "diff")
    fence = block[0].removesuffix("diff")
    assert block[-1] == fence and len(fence) >= 3
    for line in block[1:-1]:
        run = re.match(r" {0,3}(`+)\s*$", line)
        assert not (run and len(run.group(1)) >= len(fence))
        assert "\n" not in line


@given(hostile)
def test_json_text_is_exact_and_inert(text: str) -> None:
    out = json_text({"name": text})
    assert [c for c in _acting(out) if c != "\n"] == []
    assert json.loads(out) == {"name": text}


@given(hostile)
def test_yaml_text_is_exact_and_inert(text: str) -> None:
    out = yaml_text({"name": text, text[:8] or "k": 1})
    assert [c for c in _acting(out) if c != "\n"] == []
    assert yaml.safe_load(out) == {"name": text, text[:8] or "k": 1}
