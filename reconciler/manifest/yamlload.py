"""YAML text -> plain documents that remember their nodes, so any field path maps to a line.

Uses libyaml (CSafeLoader) when available. Reports syntax errors and duplicate mapping keys
(which YAML silently collapses) as problems. Knows nothing of the manifest format.
"""

from __future__ import annotations

import contextlib
import functools
import operator
from collections.abc import Callable, Hashable, Sequence
from types import GeneratorType
from typing import Any, NamedTuple, cast

import yaml
import yaml.reader
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.resolver import BaseResolver

from reconciler.errors import Problem

try:
    BASE_LOADER: type[Any] = yaml.CSafeLoader
except AttributeError:  # pyyaml built without libyaml
    BASE_LOADER = yaml.SafeLoader

STR_TAG = "tag:yaml.org,2002:str"
SEQ_TAG = "tag:yaml.org,2002:seq"
MAP_TAG = "tag:yaml.org,2002:map"
MERGE_TAG = "tag:yaml.org,2002:merge"
NULL_TAG = "tag:yaml.org,2002:null"
# Tags whose constructed values are immutable, so equal texts may share one value.
CONSTANT_TAGS = frozenset(f"tag:yaml.org,2002:{t}" for t in ("int", "bool", "null", "float"))
Loc = tuple[str | int, ...]
MAX_NODES = 200_000  # per document: stops alias bombs ("billion laughs") from a pull request


_UNSEEN = object()
_base_resolve = cast(Callable[..., str], BaseResolver.resolve)


class _TooLarge(Exception):
    pass


def make_loader(base: type[Any]) -> type[Any]:
    """`base` (CSafeLoader or SafeLoader) leaving implicit tags to be resolved by `tag_of`."""
    resolvers = base.yaml_implicit_resolvers
    # A path resolver would be skipped below; a wildcard resolver (key None) could match any
    # text, so no plain text would be known to be a string by its first character.
    if base.yaml_path_resolvers or None in resolvers:
        return base
    # First characters some implicit resolver (int, bool, null, ...) looks at.
    first_chars = frozenset(k for k in resolvers if k)
    memo: dict[str, str] = {}  # value -> tag: a pure function's cache

    def plain_tag(value: str) -> str:
        """The tag of a plain scalar, as the base resolver gives it."""
        tag = memo.get(value)
        if tag is not None:
            return tag
        if value and value[0] not in first_chars:
            return STR_TAG  # no implicit resolver can match: a plain string
        # The base resolver reads only class attributes (no path resolver is registered).
        tag = _base_resolve(cast(Any, base), ScalarNode, value, (True, False))
        if len(memo) < 4096:
            memo[value] = tag
        return tag

    class Loader(base):  # type: ignore[misc]
        # No path resolvers are registered: their bookkeeping, which the parser calls twice
        # per node, is skipped by C functions that ignore their arguments (no Python frame).
        descend_resolver = staticmethod(operator.is_)
        ascend_resolver = staticmethod(tuple)

        def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
            # The parser asks for the tag of every node without an explicit one (310,000
            # times for 20,000 documents), mapping keys included, whose tags only a merge
            # key `<<` needs. The node keeps `implicit` ((plain, quoted) for a scalar, a bool
            # for a collection) as its tag instead, and `tag_of` resolves the few that matter.
            return implicit

    Loader.__name__ = Loader.__qualname__ = f"Fast{base.__name__}"
    Loader.plain_tag = staticmethod(plain_tag)
    Loader.first_chars = first_chars
    return Loader


Loader = make_loader(BASE_LOADER)


def tag_of(node: Node) -> str:
    """The node's tag, as the base resolver gives it (see `Loader.resolve`)."""
    tag: Any = node.tag
    if tag.__class__ is str:  # written (`!!str x`), or from a loader without the shortcut
        return tag
    if node.__class__ is ScalarNode:
        return cast(str, Loader.plain_tag(node.value)) if tag[0] else STR_TAG
    return SEQ_TAG if node.__class__ is SequenceNode else MAP_TAG


class Document(NamedTuple):
    """One YAML document: its value (plain dicts/lists/scalars) and its node, for line lookups.

    An immutable NamedTuple rather than a frozen dataclass: one is built per document (20,000
    in a large set) in half the time."""

    path: str
    line: int  # first line of the document's content (1-based)
    value: Any
    text: str  # the YAML text it was composed from (see `node`; left out of the repr)
    node_index: int  # its place among the nodes that text composes to
    has_dollar: bool = True  # some string holds '$' (else ${VAR} substitution is skipped)
    reported: frozenset[Loc] = frozenset()  # fields with a YAML-level problem already reported

    def __repr__(self) -> str:
        return f"Document(path={self.path!r}, line={self.line}, value={self.value!r})"

    @property
    def node(self) -> Node:
        """The document's node tree, composed again when a message needs a line: keeping the
        trees (with two marks per node) of every document would double a load's memory."""
        node = _nodes_of(self.text, cast(Hashable, Loader))[self.node_index]
        assert node is not None
        return node


@functools.lru_cache(maxsize=4)
def _nodes_of(text: str, loader: Hashable) -> tuple[Node | None, ...]:
    """Every node `compose_all` yields for `text`, up to a syntax error if there is one."""
    nodes: list[Node | None] = []
    # The documents before a syntax error are all there is (the error is reported already).
    with contextlib.suppress(yaml.YAMLError):
        for node in yaml.compose_all(text, Loader=cast(Any, loader)):
            nodes.append(node)
    return tuple(nodes)


def format_loc(loc: Sequence[str | int]) -> str:
    """('spec', 'streams', 1) -> 'spec.streams[1]'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


def decode_utf8(data: bytes, path: str, problems: list[Problem]) -> str | None:
    """The text of a file, or None after naming the line and column of its first bad byte."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        start = exc.start
        line_start = data.rfind(b"\n", 0, start) + 1
        line = data.count(b"\n", 0, start) + 1
        column = len(data[line_start:start].decode("utf-8")) + 1  # in characters, as editors do
        byte = data[start]
        problems.append(
            Problem(
                path,
                line,
                "",
                f"not UTF-8: byte 0x{byte:02x} ({exc.reason}); re-save the file as UTF-8",
                column=column,
            )
        )
        return None


def parse_documents(text: str, path: str) -> tuple[list[Document], list[Problem], bool]:
    """Every non-empty document of `text`, its problems, and whether every document was read
    (False after a syntax error or a refused document). After a syntax error, parsing resumes at
    the next `---` line, so the documents after it are checked in the same pass."""
    docs: list[Document] = []
    problems: list[Problem] = []
    builder = _Builder(path, problems)
    failed_at = _compose(text, path, builder, docs, problems)
    lines: list[str] = []
    start: int | None = 0  # the first line of the part being parsed
    while failed_at is not None:
        lines = lines or text.split("\n")  # YAML's line breaks (splitlines knows more)
        start = _next_document(lines, failed_at, start or 0)
        if start is None:
            break
        # Blank lines in front keep every mark's line number that of the whole file.
        part = "\n" * start + "\n".join(lines[start:])
        failed_at = _compose(part, path, builder, docs, problems)
    return docs, problems, builder.lost == 0


def _compose(
    text: str, path: str, builder: _Builder, docs: list[Document], problems: list[Problem]
) -> int | None:
    """Append the documents of `text`; the 0-based line of a syntax error, else None."""
    try:
        for index, node in enumerate(yaml.compose_all(text, Loader=Loader)):
            if node is None or _is_empty(node):
                continue
            builder.budget, builder.dollars, builder.reported = MAX_NODES, False, set()
            try:
                value = builder.build(node, ())
            except (_TooLarge, RecursionError):
                builder.lost += 1
                problems.append(
                    Problem(
                        path,
                        node.start_mark.line + 1,
                        "",
                        f"document expands to more than {MAX_NODES} values or refers to "
                        "itself (YAML aliases?); simplify it",
                    )
                )
                continue
            docs.append(
                Document(
                    path,
                    node.start_mark.line + 1,
                    value,
                    text,
                    index,
                    builder.dollars,
                    frozenset(builder.reported),
                )
            )
    except yaml.MarkedYAMLError as exc:
        builder.lost += 1
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 0
        problems.append(Problem(path, line, "", f"YAML syntax error: {_syntax_error(exc)}"))
        return mark.line if mark is not None else None
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow (control codes)
        builder.lost += 1
        line, column = _line_and_column(text, exc.position)
        code = f"U+{exc.character:04X}" if isinstance(exc.character, int) else "a character"
        message = f"{code} is not allowed in YAML ({exc.reason}); remove it"
        problems.append(Problem(path, line, "", message, column=column))
        return None  # the reader stops for the whole stream: nothing after it can be read
    except yaml.YAMLError as exc:
        builder.lost += 1
        problems.append(Problem(path, 0, "", f"YAML error: {exc}"))
    return None


def _syntax_error(exc: yaml.MarkedYAMLError) -> str:
    """The problem, and what YAML was reading with where that starts when it is another line: an
    unterminated quote is found at the end of the file, and opens at the context mark."""
    what = exc.problem or "invalid YAML"
    if not exc.context:
        return what
    start, found = exc.context_mark, exc.problem_mark
    if start is None or (found is not None and found.line == start.line):
        return f"{what} ({exc.context})"
    return f"{what} ({exc.context} that starts at line {start.line + 1}, column {start.column + 1})"


def _next_document(lines: list[str], failed_at: int, start: int) -> int | None:
    """The first `---` line at or after the error (and after `start`), where parsing resumes."""
    for index in range(max(failed_at, start + 1), len(lines)):
        if lines[index].startswith("---") and lines[index][3:4] in ("", " ", "\r", "\t"):
            return index
    return None


def _line_and_column(text: str, position: int) -> tuple[int, int]:
    line_start = text.rfind("\n", 0, position) + 1
    return text.count("\n", 0, position) + 1, position - line_start + 1


def _is_empty(node: Node) -> bool:
    # A document holding only `~`/`null` or nothing at all is ignored like an empty one.
    return (
        isinstance(node, ScalarNode)
        and tag_of(node) == NULL_TAG
        and node.value in ("", "~", "null", "Null", "NULL")
    )


class _Builder:
    """Node tree -> plain values; reports duplicate keys, odd keys and unknown tags."""

    def __init__(self, path: str, problems: list[Problem]) -> None:
        self.path = path
        self.problems = problems
        self.constructor = SafeConstructor()
        self.budget = MAX_NODES
        self.dollars = False
        self.reported: set[Loc] = set()
        self.lost = 0  # documents that could not be read (syntax errors, refused documents)
        # Plain text -> value for the tags whose values are immutable: `true` or `3600` is
        # resolved and constructed once per file, not once per occurrence.
        self.constants: dict[str, Any] = {}
        # A plain text starting with none of these is a string (see `make_loader`).
        self.first_chars: frozenset[str] = getattr(Loader, "first_chars", frozenset())

    def build(self, node: Node, loc: Loc) -> Any:
        self.budget -= 1
        if self.budget < 0:
            raise _TooLarge
        if isinstance(node, ScalarNode):
            return self._scalar(node, loc)
        if isinstance(node, SequenceNode):
            return [self._item(item, loc, i) for i, item in enumerate(node.value)]
        if isinstance(node, MappingNode):
            return self._mapping(node, loc)
        return None  # pragma: no cover - the composer yields only the three node kinds

    def _item(self, node: Node, loc: Loc, part: str | int) -> Any:
        """The value of `node` at `loc` + `part`; scalars (most nodes) without building the
        location, which only a problem needs."""
        if node.__class__ is not ScalarNode:
            return self.build(node, (*loc, part))
        self.budget -= 1
        if self.budget < 0:
            raise _TooLarge
        value = node.value
        implicit: Any = node.tag
        if implicit.__class__ is tuple:  # (plain, quoted): no tag written (see Loader.resolve)
            if not implicit[0] or (value and value[0] not in self.first_chars):
                if "$" in value:
                    self.dollars = True  # only such documents need ${VAR} substitution
                return value  # quoted, or plain text no implicit resolver matches: a string
            found = self.constants.get(value, _UNSEEN)
            if found is not _UNSEEN:
                return found
            if value.isdigit() and value.isascii() and value[0] != "0" and len(value) < 19:
                # A decimal integer (an id: one per document, not worth remembering): what the
                # int resolver and constructor give, without their five calls. A longer one
                # takes their way (int() refuses over 4,300 digits: a problem, reported there).
                return int(value)
        return self._scalar(node, (*loc, part))

    def _scalar(self, node: ScalarNode, loc: Loc) -> Any:
        tag = tag_of(node)
        if tag == STR_TAG:
            if "$" in node.value:
                self.dollars = True
            return node.value
        construct = SafeConstructor.yaml_constructors.get(tag)
        if construct is None:
            self._problem(node, loc, f"unsupported YAML tag {tag}; remove it")
            return None
        try:
            value = construct(self.constructor, node)
            readable = not isinstance(value, GeneratorType)  # a collection's tag on a scalar
        except (ConstructorError, ValueError) as exc:
            self._problem(node, loc, f"cannot read this value: {exc}")
            return None
        except (KeyError, AttributeError):  # `!!bool x`, `!!timestamp x`: pyyaml does not check
            readable = False
        if not readable:
            message = f"cannot read this value as {tag}; remove the tag or fix the value"
            self._problem(node, loc, message)
            return None
        implicit: Any = node.tag
        if tag in CONSTANT_TAGS and implicit.__class__ is tuple and len(self.constants) < 4096:
            self.constants[node.value] = value
        return value

    def _mapping(self, node: MappingNode, loc: Loc) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            # Only the text `<<` or an explicit tag can make a merge key: other keys are not
            # resolved (their tags are never used).
            if (key_node.value == "<<" or key_node.tag.__class__ is str) and tag_of(
                key_node
            ) == MERGE_TAG:
                return self._merged_mapping(node, loc)
            if key_node.__class__ is not ScalarNode:
                self._problem(key_node, loc, "mapping keys must be plain names, not collections")
                continue
            key = key_node.value  # as written: `on:` stays "on", not True
            if key in result:
                self._duplicate(node, key_node, (*loc, key))
            result[key] = self._item(value_node, loc, key)  # the last one wins, as in YAML
        return result

    def _merged_mapping(self, node: MappingNode, loc: Loc) -> dict[str, Any]:
        """`<<: *defaults`: explicit keys override merged ones (not duplicates)."""
        explicit: set[str] = set()
        for key_node, _ in node.value:
            if isinstance(key_node, ScalarNode) and tag_of(key_node) != MERGE_TAG:
                if key_node.value in explicit:
                    self._duplicate(node, key_node, (*loc, key_node.value))
                explicit.add(key_node.value)
        _resolve_merge_keys(node, set())
        try:
            self.constructor.flatten_mapping(node)
        except ConstructorError as exc:
            self._problem(node, loc, f"invalid merge key: {exc.problem}")
            return {}
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if isinstance(key_node, ScalarNode):
                result[key_node.value] = self.build(value_node, (*loc, key_node.value))
            else:
                self._problem(key_node, loc, "mapping keys must be plain names, not collections")
        return result

    def _duplicate(self, node: MappingNode, key_node: Node, loc: Loc) -> None:
        first = next(k for k, _ in node.value if isinstance(k, ScalarNode) and k.value == loc[-1])
        self._problem(
            key_node,
            loc,
            f"duplicate key (first at line {first.start_mark.line + 1}): YAML would silently "
            "keep only the last one; remove one of them",
        )

    def _problem(self, node: Node, loc: Loc, message: str) -> None:
        self.reported.add(loc)
        self.problems.append(Problem(self.path, node.start_mark.line + 1, format_loc(loc), message))


def _resolve_merge_keys(node: MappingNode, seen: set[int]) -> None:
    """Give the keys `SafeConstructor.flatten_mapping` reads (those of `node` and of the
    mappings merged into it, recursively) their resolved tags: it compares them as strings."""
    if id(node) in seen:  # a mapping merged into itself: flatten_mapping finds the loop
        return
    seen.add(id(node))
    for key_node, value_node in node.value:
        key_node.tag = tag_of(key_node)
        if key_node.tag == MERGE_TAG:
            merged = value_node.value if isinstance(value_node, SequenceNode) else [value_node]
            for item in merged:
                if isinstance(item, MappingNode):
                    _resolve_merge_keys(item, seen)


def lines_in(text: str, path: str, wanted: Sequence[tuple[int, Loc]]) -> list[int]:
    """The line of each (document's first line, field path) of `text`, parsed again: the loader
    keeps no nodes, and only a problem found across documents needs a line afterwards."""
    docs = {doc.line: doc for doc in parse_documents(text, path)[0]}
    return [line_of(docs[first], loc) if first in docs else first for first, loc in wanted]


def line_of(doc: Document, loc: Sequence[str | int]) -> int:
    """The line of the deepest node along `loc` (the key's line for mapping entries)."""
    node: Node = doc.node
    line = node.start_mark.line + 1
    for part in loc:
        if isinstance(node, MappingNode) and isinstance(part, str):
            found = None
            for key_node, value_node in node.value:
                if isinstance(key_node, ScalarNode) and key_node.value == part:
                    found = (key_node, value_node)  # the last one wins, as in the value
            if found is None:
                return line
            line = found[0].start_mark.line + 1
            node = found[1]
        elif isinstance(node, SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line
