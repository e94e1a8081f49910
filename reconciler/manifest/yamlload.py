"""YAML text -> plain documents that remember their nodes, so any field path maps to a line.

Uses libyaml (CSafeLoader) when available. Reports syntax errors and duplicate mapping keys
(which YAML silently collapses) as problems. Knows nothing of the manifest format.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from reconciler.errors import Problem

try:
    BASE_LOADER: type[Any] = yaml.CSafeLoader
except AttributeError:  # pyyaml built without libyaml
    BASE_LOADER = yaml.SafeLoader

STR_TAG = "tag:yaml.org,2002:str"
SEQ_TAG = "tag:yaml.org,2002:seq"
MAP_TAG = "tag:yaml.org,2002:map"
MERGE_TAG = "tag:yaml.org,2002:merge"
Loc = tuple[str | int, ...]
MAX_NODES = 200_000  # per document: stops alias bombs ("billion laughs") from a pull request


class _TooLarge(Exception):
    pass


def make_loader(base: type[Any]) -> type[Any]:
    """`base` (CSafeLoader or SafeLoader) with a faster resolver for plain scalars."""
    resolvers = base.yaml_implicit_resolvers
    # First characters some implicit resolver (int, bool, null, ...) looks at; a wildcard
    # resolver (key None) could match anything, and then no value takes the shortcut.
    first_chars = None if None in resolvers else frozenset(k for k in resolvers if k)
    if base.yaml_path_resolvers:  # the shortcuts below would skip them
        return base
    memo: dict[str, str] = {}  # value -> tag: a pure function's cache

    class Loader(base):  # type: ignore[misc]
        def descend_resolver(self, current_node: Any, current_index: Any) -> None:
            pass  # no path resolvers are registered: skip their bookkeeping

        def ascend_resolver(self) -> None:
            pass

        def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
            if kind is ScalarNode and implicit[0]:
                tag = memo.get(value)
                if tag is not None:
                    return tag
                if value and first_chars is not None and value[0] not in first_chars:
                    return STR_TAG  # no implicit resolver can match: a plain string
                tag = super().resolve(kind, value, implicit)
                if len(memo) < 4096:
                    memo[value] = tag
                return tag
            # What the base resolver answers when no path resolver is registered, without the
            # call: the C parser asks for every node (160,000 times for 20,000 documents).
            if kind is ScalarNode:
                return STR_TAG
            return SEQ_TAG if kind is SequenceNode else MAP_TAG

    Loader.__name__ = Loader.__qualname__ = f"Fast{base.__name__}"
    return Loader


Loader = make_loader(BASE_LOADER)


@dataclass(frozen=True)
class Document:
    """One YAML document: its value (plain dicts/lists/scalars) and its node, for line lookups."""

    path: str
    line: int  # first line of the document's content (1-based)
    value: Any
    node: Node
    has_dollar: bool = True  # some string holds '$' (else ${VAR} substitution is skipped)
    reported: frozenset[Loc] = frozenset()  # fields with a YAML-level problem already reported


def format_loc(loc: Sequence[str | int]) -> str:
    """('spec', 'streams', 1) -> 'spec.streams[1]'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


def parse_documents(text: str, path: str) -> tuple[list[Document], list[Problem]]:
    """Every non-empty document of `text`; documents before a syntax error are kept."""
    docs: list[Document] = []
    problems: list[Problem] = []
    builder = _Builder(path, problems)
    try:
        for node in yaml.compose_all(text, Loader=Loader):
            if node is None or _is_empty(node):
                continue
            builder.budget, builder.dollars, builder.reported = MAX_NODES, False, set()
            try:
                value = builder.build(node, ())
            except (_TooLarge, RecursionError):
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
                    node,
                    builder.dollars,
                    frozenset(builder.reported),
                )
            )
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 0
        what = exc.problem or "invalid YAML"
        context = f" ({exc.context})" if exc.context else ""
        problems.append(Problem(path, line, "", f"YAML syntax error: {what}{context}"))
    except yaml.YAMLError as exc:  # reader errors (bad characters) carry no mark
        problems.append(Problem(path, 0, "", f"YAML error: {exc}"))
    return docs, problems


def _is_empty(node: Node) -> bool:
    # A document holding only `~`/`null` or nothing at all is ignored like an empty one.
    return (
        isinstance(node, ScalarNode)
        and node.tag == "tag:yaml.org,2002:null"
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

    def build(self, node: Node, loc: Loc) -> Any:
        self.budget -= 1
        if self.budget < 0:
            raise _TooLarge
        if isinstance(node, ScalarNode):
            if node.tag == STR_TAG:
                if "$" in node.value:
                    self.dollars = True  # only such documents need ${VAR} substitution
                return node.value
            return self._scalar(node, loc)
        if isinstance(node, SequenceNode):
            return [self.build(item, (*loc, i)) for i, item in enumerate(node.value)]
        if isinstance(node, MappingNode):
            return self._mapping(node, loc)
        return None  # pragma: no cover - the composer yields only the three node kinds

    def _scalar(self, node: ScalarNode, loc: Loc) -> Any:
        construct = SafeConstructor.yaml_constructors.get(node.tag)
        if construct is None:
            self._problem(node, loc, f"unsupported YAML tag {node.tag}; remove it")
            return None
        try:
            return construct(self.constructor, node)
        except (ConstructorError, ValueError) as exc:
            self._problem(node, loc, f"cannot read this value: {exc}")
            return None

    def _mapping(self, node: MappingNode, loc: Loc) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == MERGE_TAG:
                return self._merged_mapping(node, loc)
            if key_node.__class__ is not ScalarNode:
                self._problem(key_node, loc, "mapping keys must be plain names, not collections")
                continue
            key = key_node.value  # as written: `on:` stays "on", not True
            if key in result:
                self._duplicate(node, key_node, (*loc, key))
            result[key] = self.build(value_node, (*loc, key))  # the last one wins, as in YAML
        return result

    def _merged_mapping(self, node: MappingNode, loc: Loc) -> dict[str, Any]:
        """`<<: *defaults`: explicit keys override merged ones (not duplicates)."""
        explicit: set[str] = set()
        for key_node, _ in node.value:
            if key_node.tag != MERGE_TAG and isinstance(key_node, ScalarNode):
                if key_node.value in explicit:
                    self._duplicate(node, key_node, (*loc, key_node.value))
                explicit.add(key_node.value)
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
