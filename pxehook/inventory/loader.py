"""YAML to Python values that remember their lines, with libyaml's C parser.

PyYAML's C parser (``CSafeLoader``) keeps a mark on every node, so mappings built here
record the line of each key and error messages still name ``file:line`` at C speed.
Scalars that YAML 1.1 would read as base-60 numbers (``52:54:00:12:34:56``) stay text.
"""

from __future__ import annotations

import gc
import re
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
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


# the plain host item ----------------------------------------------------------------------
# Most host items are a handful of "key: value" lines; building them through libyaml's
# nodes costs more than the rest of an apply. ``plain_item`` reads exactly that shape (one
# level of block mapping under a key, flow lists/mappings of scalars, quoted strings without
# escapes, plain scalars YAML resolves to text) and gives None for anything else, which
# ``load_yaml`` then reads: both give the same values and lines
# (tests/test_inventory_apply.py compares them).

_KEY = r"[A-Za-z_][A-Za-z0-9_]*"
_PLAIN = r"[A-Za-z0-9_/][A-Za-z0-9_./+=@-]*"  # no ':' (it may end a flow key)
_SCALAR = rf'"[^"\\\x00-\x1f]*"|\'[^\'\x00-\x1f]*\'|{_PLAIN}(?::{_PLAIN})*'
_FLOW_SCALAR = rf'"[^"\\,\[\]{{}}\x00-\x1f]*"|\'[^\',\[\]{{}}\x00-\x1f]*\'|{_PLAIN}'
_LINE = re.compile(rf"( *)(- )?({_KEY}):(?: +(.*))?")
_SCALAR_RE = re.compile(_SCALAR)
_FLOW_SCALAR_RE = re.compile(_FLOW_SCALAR)
_FLOW_ITEMS = re.compile(rf"(?:{_FLOW_SCALAR})(?:, (?:{_FLOW_SCALAR}))*")
_FLOW_PAIRS = re.compile(rf"(?:{_KEY}): (?:{_FLOW_SCALAR})(?:, (?:{_KEY}): (?:{_FLOW_SCALAR}))*")
_PAIR = re.compile(rf"({_KEY}): ({_FLOW_SCALAR})")


class _NotPlain(Exception):
    pass


@lru_cache(maxsize=4096)  # keys, profiles, groups… repeat from host to host
def _text(value: str, pattern: re.Pattern[str]) -> str:
    """A scalar's text, if YAML reads it as text (else _NotPlain)."""
    if not pattern.fullmatch(value):
        raise _NotPlain
    if value[0] in "\"'":
        return value[1:-1]
    for tag, regexp in _IMPLICIT.get(value[:1], []):
        if regexp.match(value):
            if tag in _NUMBERS and ":" in value:
                break  # text, as ``_convert`` keeps it
            raise _NotPlain  # a number, a boolean, a null…: libyaml's rules decide
    return value


def _key(key: str) -> str:
    return _text(key, _SCALAR_RE)


@lru_cache(maxsize=4096)  # most rows repeat from host to host (profile, groups, labels…)
def _row(row: str) -> tuple[int, bool, str, str, str, Any]:
    """One row read once: (column of its key, whether it opens the item, the key as written,
    the key, what its value is, the value) where what is ``s`` (a scalar's text), ``l`` (a
    flow list's items), ``m`` (a flow mapping's (key as written, key, text) pairs) or ``n``
    (nothing: a block mapping follows). Values are immutable here; ``_plain_rows`` builds
    each host's own lists and mappings from them."""
    match = _LINE.fullmatch(row)
    if match is None:
        raise _NotPlain
    spaces, dash, key, raw = match.groups()
    head = (len(spaces) + (2 if dash else 0), dash is not None, key, _key(key))
    if raw is None:
        return (*head, "n", None)
    if raw.startswith("["):
        inner = raw[1:-1] if raw.endswith("]") else None
        if inner is None or (inner and not _FLOW_ITEMS.fullmatch(inner)):
            raise _NotPlain
        items = tuple(_text(item, _FLOW_SCALAR_RE) for item in inner.split(", ")) if inner else ()
        return (*head, "l", items)
    if raw.startswith("{"):
        inner = raw[1:-1] if raw.endswith("}") else None
        if inner is None or (inner and not _FLOW_PAIRS.fullmatch(inner)):
            raise _NotPlain
        pairs = tuple((k, _key(k), _text(v, _FLOW_SCALAR_RE)) for k, v in _PAIR.findall(inner))
        return (*head, "m", pairs)
    return (*head, "s", _text(raw, _SCALAR_RE))


def plain_item(text: str, offset: int = 0) -> Marked | None:
    """The host mapping of a one-item list in the plain shape (see above), lines moved
    down by ``offset``; None when ``text`` is anything else."""
    if "#" in text or "\t" in text or "\r" in text or "\\" in text:
        return None
    rows = text.split("\n")
    if rows[-1] != "":
        return None
    try:
        return _plain_rows(rows[:-1], offset)
    except _NotPlain:
        return None


def _plain_rows(rows: list[str], offset: int) -> Marked:
    if not rows or not rows[0].strip(" "):
        raise _NotPlain  # the item's first row opens it
    item = marked(offset + 1)
    indent = 0
    inner: Marked | None = None  # the block mapping being read, if any
    for number, row in enumerate(rows, offset + 1):
        if not row.strip(" "):
            continue  # a blank line
        at, dash, key, name, kind, value = _row(row)
        if dash != (number == offset + 1):
            raise _NotPlain
        if dash:
            indent = at
        if inner is not None and at == indent + 2 and kind == "s":
            if not inner:
                inner.line = number  # a block mapping starts at its first key
            inner[name] = value
            inner.lines[key] = number
            continue
        if at != indent or (inner is not None and not inner):
            raise _NotPlain  # deeper nesting, or a key with no value at all
        inner = None
        if kind == "n":
            inner = item[name] = marked(number)
        elif kind == "s":
            item[name] = value
        elif kind == "l":
            item[name] = list(value)
        else:
            mapping = item[name] = marked(number)
            for written, inner_key, text in value:
                mapping[inner_key] = text
                mapping.lines[written] = number
        item.lines[key] = number
    if inner is not None and not inner:
        raise _NotPlain
    return item
