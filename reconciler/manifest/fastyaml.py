"""The plain subset of YAML most manifests are written in, read line by line without nodes.

Block mappings and lists, one-line scalars (plain, or quoted without escapes), one-line flow
lists and mappings of such scalars, comments and `---`: the same documents `yamlload` composes,
in a fraction of the time. Anything else (anchors, tags, block scalars, a value over two lines,
a duplicate key, a tab, a value YAML refuses...) gives None, and `yamlload` reads the whole file:
it alone reports problems. Knows nothing of the manifest format.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from yaml.constructor import SafeConstructor
from yaml.nodes import ScalarNode

from reconciler.manifest import yamlload
from reconciler.manifest.yamlload import MAX_NODES, STR_TAG, Document

# Characters outside the subset: tabs, CR and the other line breaks YAML knows (NEL, LS, PS),
# the BOM, and what YAML refuses (control codes, surrogates, U+FFFE/FFFF).
_OUTSIDE = re.compile(
    "[^\n\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]"
)
_KEY = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_./-]{0,200}")  # a plain key that means itself
# Characters that may not start a plain scalar (`-` may, before a digit or a dot: -1, -.5).
_INDICATORS = frozenset("-?:,[]{}#&*!|>'\"%@`")
_NUMBER_START = frozenset("0123456789.")
# First characters of a plain scalar that is a string whatever follows: no indicator, no first
# character of an implicit tag (int, bool, null...; none if some resolver looks at any).
_RESOLVED = yamlload.Loader.yaml_implicit_resolvers
_SPECIAL_START = _INDICATORS | frozenset(k for k in _RESOLVED if k)
_WILDCARD = None in _RESOLVED  # a resolver that may match any text: this reader stays off
# In a flow collection: what ends a plain scalar there, or what this reader leaves to yamlload.
_FLOW_SPECIAL = re.compile(r"[:#\[\]{}'\"]")
_FLOW_QUOTED = re.compile(r"'([^']*)'|\"([^\"\\]*)\"")
_FLOW_ENTRY = re.compile(r" *([A-Za-z0-9_][A-Za-z0-9_./-]{0,200}): +(.*)")
_MARKER = "---"  # the "key" of a `---` line


class _Outside(Exception):
    """The text leaves the subset: read it in full."""


def fast_documents(text: str, path: str) -> list[Document] | None:
    """The non-empty documents of `text` as `yamlload.parse_documents` gives them when it finds
    no problem, or None when the text is outside the subset (or may have a problem)."""
    plain_tag = getattr(yamlload.Loader, "plain_tag", None)  # None: path resolvers in use
    if _WILDCARD or plain_tag is None or _OUTSIDE.search(text):
        return None
    try:
        return _read(text, path, plain_tag)
    except _Outside:
        return None
    except Exception:  # a surprise here costs only time: yamlload reads the file and reports
        return None


def _read(text: str, path: str, plain_tag: Callable[[str], str]) -> list[Document]:
    """Line by line (one loop: a call per line would cost more than the line); `top` is the
    open collection, `stack` the ones around it, each as (indent, collection, is a list)."""
    docs = _Documents(text, path)
    stack: list[tuple[int, Any, bool]] = []
    top: Any = None
    top_indent, top_is_list = -1, False
    pending: tuple[int, dict[str, Any], str] | None = None  # `key:` waiting for its value
    scalars, keys, dollars = _SCALARS, _KEYS, "$" in text
    key: str | None
    number = 0
    for number, line in enumerate(text.split("\n"), 1):
        content = line.lstrip(" ")
        if not content or content[0] == "#":
            continue
        indent = len(line) - len(content)
        key, colon, written = content.partition(":")
        if not colon or key not in keys or (written and written[0] != " "):
            # `---`, `- value`, or a key not seen yet
            key, written = (_MARKER, "") if content == _MARKER else _split(content)
            if key is _MARKER:
                docs.next(indent, number)
                stack, top, top_indent, pending = [], None, -1, None
                continue
        if pending is not None:  # a nested block, or nothing (null)
            if indent > pending[0] if key is not None else indent >= pending[0]:
                stack.append((top_indent, top, top_is_list))
                top, top_indent, top_is_list = ([] if key is None else {}), indent, key is None
                pending[1][pending[2]] = top
            pending = None
        if indent != top_indent or top_is_list is (key is not None):
            if top is None:
                top, top_indent, top_is_list = docs.open(number, indent, key), 0, False
            else:
                top_indent, top, top_is_list = _close(stack, indent, key is None)
        if dollars and "$" in written:
            docs.has_dollar = True  # a string holds '$' (a superset: keys and comments too)
        if " #" in written:
            written = _uncommented(written)
        value = written.strip(" ")
        if not value:
            if key is None or key in top:
                raise _Outside  # `-` alone (its value is on the next lines), a duplicate key
            top[key] = None  # until a nested block says otherwise
            pending = (indent, top, key)
            continue
        found = scalars.get(value, _UNSEEN)
        if found is not _UNSEEN:
            pass
        elif value[0] not in _SPECIAL_START and ": " not in value and value[-1] != ":":
            found = value  # a name, say: no implicit tag starts with its first character
        else:
            found = _value(value, plain_tag)
            if value[0] in "[{":
                docs.values += len(found)
        if key is None:
            top.append(found)
        elif key in top:
            raise _Outside  # a duplicate key: yamlload reports it
        else:
            top[key] = found
    return docs.done(number)


class _Documents:
    """The documents read so far, and the bookkeeping of the current one."""

    def __init__(self, text: str, path: str) -> None:
        self.text, self.path = text, path
        self.docs: list[Document] = []
        self.index = -1  # the document's place among those compose_all yields
        self.root: dict[str, Any] | None = None
        self.first = 0  # the first line of its content
        self.values = 0  # the items of its flow collections (its lines are the other values)
        self.has_dollar = False

    def open(self, number: int, indent: int, key: str | None) -> dict[str, Any]:
        if key is None or indent:
            raise _Outside  # a document that is not a mapping at column 0
        self.index = max(self.index, 0)  # content before any `---`: an implicit document
        self.root, self.first, self.values, self.has_dollar = {}, number, 0, False
        return self.root

    def next(self, indent: int, number: int) -> None:
        """A `---` line: the current document ends, the next one starts."""
        if indent:
            raise _Outside  # an indented `---`
        self.close(number)
        self.index += 1

    def close(self, end: int) -> None:
        if self.root is None:
            return
        # Its lines and flow items bound its values; yamlload refuses one over MAX_NODES.
        if end - self.first + 1 + self.values > MAX_NODES:
            raise _Outside
        doc = Document(self.path, self.first, self.root, self.text, self.index, self.has_dollar)
        self.docs.append(doc)
        self.root = None

    def done(self, lines: int) -> list[Document]:
        self.close(lines)
        return self.docs


def _split(content: str) -> tuple[str | None, str]:
    """(key, what follows its colon) of `key: value`, (None, value) of `- value`, or
    (_MARKER, "") of `---`: what a line of the subset is."""
    if content[0] == "-":
        if content[:3] == "---" and content[3:4] in ("", " "):
            if content[3:].strip(" ")[:1] not in ("", "#"):
                raise _Outside  # `--- value`
            return _MARKER, ""
        if content == "-" or content[1] == " ":
            return None, content[1:]
    key, colon, written = content.partition(":")
    if not colon or (written and written[0] != " "):
        raise _Outside  # not `key:` or `key: value` (`a:b` is a plain scalar, say)
    if key not in _KEYS:
        if _KEY.fullmatch(key) is None:
            raise _Outside
        if len(_KEYS) < 4096:
            _KEYS[key] = True
    return key, written


def _close(stack: list[tuple[int, Any, bool]], indent: int, is_list: bool) -> tuple[int, Any, bool]:
    """The open collection a line at `indent` belongs to, after closing the deeper ones."""
    while stack:
        found = stack.pop()
        if found[0] == indent and found[2] is is_list:
            return found
        if found[0] < indent:
            break
    raise _Outside  # a continued value, or an indent YAML would refuse


def _uncommented(written: str) -> str:
    """`written` without its comment (` #...`): a quoted value may hold ` #` itself."""
    value = written.lstrip(" ")
    if value[:1] in ("'", '"'):
        end = value.find(value[0], 1)
        if end > 0 and value[end + 1 :].lstrip(" ")[:1] in ("", "#"):
            return value[: end + 1]
        raise _Outside
    return written.split(" #", 1)[0]


def _value(value: str, plain_tag: Callable[[str], str]) -> Any:
    """One line's value: a scalar, or a flow list or mapping of scalars."""
    first = value[0]
    if first == "[" or first == "{":
        if value[-1] != ("]" if first == "[" else "}"):
            raise _Outside
        inner = value[1:-1]
        if first == "{":
            return _flow_mapping(inner, plain_tag)
        if not inner.strip(" "):
            return []
        return [_flow_item(part, plain_tag) for part in inner.split(",")]
    if first == "'" or first == '"':
        if len(value) < 2 or value[-1] != first or first in value[1:-1]:
            raise _Outside
        if first == '"' and "\\" in value:
            raise _Outside  # escapes: yamlload reads them
        return value[1:-1]
    return _plain(value, plain_tag)


def _flow_mapping(inner: str, plain_tag: Callable[[str], str]) -> dict[str, Any]:
    mapping: dict[str, Any] = {}
    if not inner.strip(" "):
        return mapping
    for part in inner.split(","):
        entry = _FLOW_ENTRY.fullmatch(part)
        if entry is None or entry[1] in mapping:
            raise _Outside
        mapping[entry[1]] = _flow_item(entry[2], plain_tag)
    return mapping


def _flow_item(part: str, plain_tag: Callable[[str], str]) -> Any:
    """One scalar of a flow collection: plain without `:#[]{}` and quotes, or quoted."""
    item = part.strip(" ")
    if not item:
        raise _Outside  # `[a, , b]` is an error; `[a, b, ]` is left to yamlload
    first = item[0]
    if first not in _SPECIAL_START and _FLOW_SPECIAL.search(item) is None:
        return item  # a string whatever follows (see `_SPECIAL_START`)
    if first in "'\"":
        found = _FLOW_QUOTED.fullmatch(item)
        if found is None:
            raise _Outside
        return found[1] if found[1] is not None else found[2]
    if _FLOW_SPECIAL.search(item):
        raise _Outside
    return _plain(item, plain_tag)


def _plain(text: str, plain_tag: Callable[[str], str]) -> Any:
    """A plain scalar's value, resolved and constructed as the composer and the builder do."""
    found = _SCALARS.get(text, _UNSEEN)
    if found is not _UNSEEN:
        return found
    if text.isdigit() and text.isascii() and len(text) < 19 and (text[0] != "0" or text == "0"):
        found = int(text)  # a decimal int (YAML 1.1 reads 0-led digits as octal)
    else:
        found = _constructed(text, plain_tag)
    if len(_SCALARS) >= 4096:
        _SCALARS.clear()  # unique values would fill it for good; the common ones come back
    _SCALARS[text] = found  # all immutable: str, int, bool, None, float, date, datetime
    return found


def _constructed(text: str, plain_tag: Callable[[str], str]) -> Any:
    first = text[0]
    if first in _INDICATORS and (first != "-" or text[1:2] not in _NUMBER_START or not text[1:]):
        raise _Outside  # an anchor, an alias, a tag, a block scalar...
    if ": " in text or text[-1] == ":":
        raise _Outside
    tag = plain_tag(text)
    if tag == STR_TAG:
        return text
    construct = SafeConstructor.yaml_constructors.get(tag)
    if construct is None:
        raise _Outside  # `=` and the like: yamlload reports the tag
    try:
        return construct(_CONSTRUCTOR, ScalarNode(tag, text))
    except Exception:  # any failure is yamlload's to report
        raise _Outside from None


_UNSEEN = object()
_CONSTRUCTOR = SafeConstructor()
_KEYS: dict[str, bool] = {}  # keys that passed `_KEY`
# Plain text -> its value (a cache of a pure function).
_SCALARS: dict[str, Any] = {}
