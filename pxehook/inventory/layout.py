"""Cut an inventory's text into its head and one piece per host, to parse only what changed.

The usual inventory is a block mapping whose ``hosts:`` list has one item per host, each
starting with ``- `` at one indentation. ``split`` finds those items by their indentation
alone (no YAML parsing), each with its first line and a fingerprint of its text; the head
is the text with the items' lines blanked, so its line numbers stay right. A file it cannot
read that way (flow style, anchors across items, several documents…) gives None, and so
does any piece that then fails to parse on its own: the caller parses the whole file.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from dataclasses import dataclass

_HOSTS = re.compile(r"^hosts:[ \t]*(#.*)?$")
_TOP_HOSTS = re.compile(r"^['\"]?hosts['\"]?\s*:")
_DOCUMENT = re.compile(r"^(---|\.\.\.|%)")


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


def _blank_or_comment(line: str) -> bool:
    stripped = line.strip()
    return not stripped or stripped.startswith("#")


def split(text: str) -> Layout | None:
    """The head and host items of ``text``, or None when it is not laid out plainly."""
    lines = text.split("\n")
    starts = [i for i, line in enumerate(lines) if _TOP_HOSTS.match(line)]
    if len(starts) != 1 or not _HOSTS.match(lines[starts[0]].rstrip("\r")):
        return None
    if any(_DOCUMENT.match(line) for line in lines):
        return None
    first = starts[0] + 1
    while first < len(lines) and _blank_or_comment(lines[first]):
        first += 1
    if first == len(lines):
        return Layout(head=text, items=[])
    opening = lines[first]
    indent = len(opening) - len(opening.lstrip(" "))
    if indent == 0 and opening[:1] != "-":  # the next section: no hosts
        return Layout(head=text, items=[])
    if opening[indent : indent + 2].rstrip("\r") not in ("-", "- ") or "\t" in opening[:indent]:
        return None
    bounds: list[int] = []
    end = first
    for i in range(first, len(lines)):
        line = lines[i]
        if _blank_or_comment(line):
            continue
        if line[:1] == "\t":
            return None
        depth = len(line) - len(line.lstrip(" "))
        if depth == indent and line[depth : depth + 2].rstrip("\r") in ("-", "- "):
            bounds.append(i)
        elif depth <= indent:
            break
        end = i + 1
    else:
        end = len(lines)
    bounds.append(end)
    items = []
    for start, stop in itertools.pairwise(bounds):
        piece = "\n".join(lines[start:stop]) + "\n"
        items.append(Item(line=start + 1, text=piece, digest=digest(piece)))
    head = lines[:first] + [""] * (end - first) + lines[end:]
    return Layout(head="\n".join(head), items=items)
