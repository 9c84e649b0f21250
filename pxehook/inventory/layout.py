"""Cut an inventory's text into its head and one piece per host, to parse only what changed.

The usual inventory is a block mapping whose ``hosts:`` list has one item per host, each
starting with ``- `` at one indentation. ``split`` finds those items by their indentation
alone (regular expressions over the text, no YAML parsing), each with its first line and a
fingerprint of its text; the head is the text with the items' lines blanked, so its line
numbers stay right. A file it cannot read that way (flow style, tabs, several documents…)
gives None, and so does any piece that then fails to parse on its own: the caller parses
the whole file.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

_TOP_HOSTS = re.compile(r"""^['"]?hosts['"]?[ \t]*:""", re.MULTILINE)
_HOSTS = re.compile(r"^hosts:[ \t]*(#[^\n]*)?\r?$", re.MULTILINE)
_DOCUMENT = re.compile(r"^(---|\.\.\.|%)", re.MULTILINE)
_CONTENT = re.compile(r"^(?![ \t]*(#|\r?$))", re.MULTILINE)  # a line that is not blank/comment


def digest(text: str) -> str:
    """A fingerprint of ``text`` (BLAKE2b, 128 bits, hex)."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


@dataclass(frozen=True)
class Item:
    """One host's text: its first line (1-based) and fingerprint."""

    line: int
    text: str
    digest: str


@dataclass(frozen=True)
class Layout:
    """The text without its host items (same line numbers), and the items in order."""

    head: str
    items: list[Item]


def split(text: str) -> Layout | None:
    """The head and host items of ``text``, or None when it is not laid out plainly."""
    if len(_TOP_HOSTS.findall(text)) != 1 or _DOCUMENT.search(text):
        return None
    hosts = _HOSTS.search(text)
    if hosts is None:
        return None
    opening = _CONTENT.search(text, hosts.end() + 1) if hosts.end() < len(text) else None
    if opening is None:
        return Layout(head=text, items=[])
    first = opening.start()
    indent = len(text[first:]) - len(text[first:].lstrip(" "))
    if indent == 0 and text[first] != "-":  # the next section: no hosts
        return Layout(head=text, items=[])
    start = re.compile(rf"^ {{{indent}}}-(?: |\r?$)", re.MULTILINE)
    if not start.match(text, first):
        return None
    # the list ends at the first content line that is neither deeper nor a new item
    end_at = re.compile(
        rf"^(?! {{{indent + 1}}}| {{{indent}}}-(?: |\r?$)|[ \t]*(?:#|\r?$))", re.MULTILINE
    )
    ending = end_at.search(text, first)
    end = ending.start() if ending else len(text)
    if end < len(text) and text[end] == "\t":
        return None
    region = text[first:end]
    if "\t" in region and re.search(r"^ *\t", region, re.MULTILINE):
        return None
    starts = [m.start() for m in start.finditer(region)]
    line = text.count("\n", 0, first) + 1
    items = []
    for begin, stop in zip(starts, [*starts[1:], len(region)], strict=True):
        piece = region[begin:stop]
        if not piece.endswith("\n"):
            piece += "\n"
        items.append(Item(line=line, text=piece, digest=digest(piece)))
        line += piece.count("\n")
    head = text[:first] + "\n" * region.count("\n") + text[end:]
    return Layout(head=head, items=items)
