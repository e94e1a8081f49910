"""The one place that makes a value safe to print (invariant 10): secrets redacted, then every
character that could act instead of show (line breaks, terminal escapes, bidi overrides) escaped,
plus per-format escaping for markdown cells, code fences, JSON and YAML.

Every output path calls it: plans, reports, status, export, errors, logs. Knows no model.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable, Iterable
from typing import Any

import yaml

from reconciler.redact import redact_registered, redact_text, redact_value

# Unicode categories that never print as themselves: controls (C0, DEL, C1: ESC, CSI, OSC, BEL),
# format characters (bidi overrides, zero-width), surrogates, private use, unassigned, and the
# line and paragraph separators.
_ACTING = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


# Candidates for a category lookup: anything but printable ASCII and the line feed (found by
# the regex engine, so ASCII text costs almost nothing).
_CANDIDATE = re.compile(r"[^\x20-\x7e\n]")


def _acting(ch: str) -> bool:
    return unicodedata.category(ch) in _ACTING


def _escaped(ch: str) -> str:
    """Python's notation (also YAML's): `\\x1b`, `\\u202e`, `\\U000e0001`."""
    if ch in _NAMED:
        return _NAMED[ch]
    code = ord(ch)
    return (
        f"\\x{code:02x}"
        if code <= 0xFF
        else f"\\u{code:04x}"
        if code <= 0xFFFF
        else f"\\U{code:08x}"
    )


def _escape_acting(text: str, escape: Callable[[str], str]) -> str:
    """`text` with each acting character other than the line feed replaced by `escape(ch)`."""
    return _CANDIDATE.sub(lambda m: escape(m.group(0)) if _acting(m.group(0)) else m.group(0), text)


def escape_controls(text: str) -> str:
    """One line whatever the input: `\\n`, `\\r`, `\\t`, `\\x1b`, `\\u202e` shown literally."""
    if text.isprintable():  # the common case, at C speed
        return text
    return _escape_acting(text, _escaped).replace("\n", "\\n")


def terminal_line(text: str) -> str:
    """A value or a line for a terminal or a log: redacted, on one line, no escape sequence.
    Apply before adding colour (click.style's own sequences come after)."""
    return escape_controls(redact_text(str(text)))


# --- markdown (GitHub-flavoured, for pull-request comments) ------------------------------------

# Backslash-escaped (CommonMark escapes any ASCII punctuation): emphasis, code spans, links and
# images, table cells, strikethrough, headings. `<`, `>` and `&` become entities (no HTML, no
# comment, no entity of the value's own).
_MD_PUNCT = re.compile(r"([\\`*_\[\]|~#!])")
_HTML = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_HTML_CHARS = re.compile(r"[&<>]")
# `@name` notifies people on GitHub: a zero-width space after `@` keeps the text, not the ping.
_MENTION = re.compile(r"@(?=[A-Za-z0-9_-])")
_LINE_START = re.compile(r"^([-+=]|\d+[.)])")  # a list item or setext underline at a line start


def markdown_text(text: str) -> str:
    """A value in markdown prose or a table cell: renders as exactly its characters, on one
    line; no HTML, heading, link, emphasis, cell break or mention. Empty shows as `-`."""
    text = terminal_line(text)
    if not text:
        return "-"
    text = _MD_PUNCT.sub(r"\\\1", text)
    text = _HTML_CHARS.sub(lambda m: _HTML[m.group(0)], text)
    text = _MENTION.sub("@&#8203;", text)
    return _LINE_START.sub(r"\\\1", text)


def code_block(lines: Iterable[str], info: str = "") -> list[str]:
    """A fenced code block: each line made inert, and the fence longer than any backtick run in
    the content (CommonMark: only a fence at least as long closes it)."""
    body = [terminal_line(line) for line in lines]
    longest = max((len(run) for line in body for run in re.findall(r"`+", line)), default=0)
    fence = "`" * max(3, longest + 1)
    return [fence + info, *body, fence]


# --- machine formats ----------------------------------------------------------------------------


def _json_escape(ch: str) -> str:
    """`\\uXXXX`, a surrogate pair beyond the basic plane (JSON has no other notation)."""
    code = ord(ch)
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def _yaml_escape(ch: str) -> str:
    code = ord(ch)
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def json_text(value: Any) -> str:
    """Indented JSON of a redacted copy of `value`, every string exact once parsed, and no
    character that acts on a terminal (escaped as `\\uXXXX`, still valid JSON)."""
    # JSON escapes C0 itself; the others may appear raw with ensure_ascii=False, and only
    # inside strings, where `\\uXXXX` is the same character once parsed.
    text = json.dumps(redact_value(value), indent=2, ensure_ascii=False)
    return _escape_acting(text, _json_escape) + "\n"


class _InertDumper(yaml.SafeDumper):
    """Strings with an acting character are written double-quoted, where YAML escapes them."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = None if value.isprintable() or not any(map(_acting, value)) else '"'
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_InertDumper.add_representer(str, _represent_str)


def yaml_text(value: Any) -> str:
    """A YAML document that loads back to `value` (not redacted: the caller keeps secrets out),
    with no raw acting character: YAML's own double-quoted escapes, plus `\\uXXXX` for those
    PyYAML would print raw (bidi and other format characters, which only occur quoted)."""
    text = yaml.dump(
        value, Dumper=_InertDumper, sort_keys=False, default_flow_style=False, allow_unicode=True
    )
    return _escape_acting(text, _yaml_escape)


def yaml_comment(text: str) -> str:
    """One `# ...` comment line of ours (it may quote names, never field values): registered
    secrets masked, on one line. The `field: value` rule would mask "a secret: set X"."""
    return f"# {escape_controls(redact_registered(str(text)))}\n"
