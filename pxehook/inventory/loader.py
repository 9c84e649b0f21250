"""YAML to Python values that remember their lines, with libyaml's C parser.

PyYAML's C parser (``CSafeLoader``) keeps a mark on every node, so mappings built here
record the line of each key and error messages still name ``file:line`` at C speed.
Scalars that YAML 1.1 would read as base-60 numbers (``52:54:00:12:34:56``) stay text.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import yaml

from pxehook.errors import yaml_error

_Base: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml, where PyYAML has it


class Marked(dict):  # type: ignore[type-arg]
    """A mapping that remembers its line and the line of each key (1-based)."""

    lines: dict[str, int]
    line: int


def marked(line: int = 1) -> Marked:
    """An empty ``Marked`` at ``line``."""
    value = Marked()
    value.line, value.lines = line, {}
    return value


_IMPLICIT = yaml.resolver.Resolver.yaml_implicit_resolvers
_WILDCARD = _IMPLICIT.get(None, [])


class _LineLoader(_Base):  # type: ignore[misc, valid-type]
    """The safe loader's tag resolution without its path resolvers (none are registered):
    called for every node, so it is kept short."""

    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        pass

    def ascend_resolver(self) -> None:
        pass

    def resolve(self, kind: type, value: Any, implicit: tuple[bool, bool]) -> str:
        if kind is yaml.ScalarNode:
            if implicit[0]:
                for tag, regexp in _IMPLICIT.get(value[:1], []) + _WILDCARD:
                    if regexp.match(value):
                        return str(tag)
            return str(self.DEFAULT_SCALAR_TAG)
        if kind is yaml.SequenceNode:
            return str(self.DEFAULT_SEQUENCE_TAG)
        return str(self.DEFAULT_MAPPING_TAG)


_STR = "tag:yaml.org,2002:str"
_NUMBERS = ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")
_MERGE = "tag:yaml.org,2002:merge"


def _convert(node: yaml.Node, loader: _LineLoader, memo: dict[int, Any], offset: int) -> Any:
    """The Python value of ``node``, as the safe loader builds it, mappings ``Marked`` with
    lines moved down by ``offset``.

    Walks the composed nodes directly (the generic constructor costs twice the parse);
    scalars other than strings go through the safe constructor's own rules."""
    kind = type(node)
    if kind is yaml.ScalarNode:
        tag = node.tag
        if tag == _STR:
            return node.value
        if tag in _NUMBERS and ":" in node.value:
            return node.value  # 52:54:00:12:34:56 would be a base-60 number in YAML 1.1
        return loader.construct_object(node)
    done = memo.get(id(node))
    if done is not None:  # an alias: the same object, as the safe loader shares it
        return done
    if kind is yaml.SequenceNode:
        items: list[Any] = []
        memo[id(node)] = items
        items.extend(_convert(child, loader, memo, offset) for child in node.value)
        return items
    if kind is not yaml.MappingNode:
        return loader.construct_object(node, deep=True)
    if any(key.tag == _MERGE for key, _ in node.value):
        loader.flatten_mapping(node)
    result = marked(node.start_mark.line + 1 + offset)
    memo[id(node)] = result
    lines = result.lines
    for key_node, value_node in node.value:
        key = _convert(key_node, loader, memo, offset)
        try:
            hash(key)
        except TypeError:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping", node.start_mark, "found unhashable key",
                key_node.start_mark,
            ) from None  # fmt: skip
        result[key] = _convert(value_node, loader, memo, offset)
        lines[str(key_node.value)] = key_node.start_mark.line + 1 + offset
    return result


@contextmanager
def no_gc() -> Iterator[None]:
    """Hold the cyclic garbage collector while many small objects are built (it would run
    again and again over them, more than doubling the time); restore it after."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def load_yaml(text: str, path: str, *, offset: int = 0) -> Any:
    """The value of ``text`` (a piece starting ``offset`` lines into the file); a YAML error
    is a ConfigError naming ``path:line``."""
    loader = _LineLoader(text)
    try:
        node = loader.get_single_node()
        return None if node is None else _convert(node, loader, {}, offset)
    except yaml.YAMLError as exc:
        raise yaml_error(path, exc) from None
    finally:
        loader.dispose()
