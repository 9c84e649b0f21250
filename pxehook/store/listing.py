"""What a host list asks for and gets back: filters, sort, page, counts, and what changed.

The records the fleet page's reads are made of (``Store.host_search``, ``Store.host_changes``,
``store/sql_listing.py``). Pure data: the web edge parses a request into a ``HostQuery``; the
store answers with a ``HostPage`` or ``HostChanges``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pxehook.models import Host

#: The sort keys a list may ask for (each in ``sql_listing.SORTS``); ``id`` is the order
#: hosts were added in. Blanks (no name, no IP, never seen) come last in either direction.
SORT_KEYS = ("id", "mac", "name", "ip", "profile", "state", "last_seen", "first_seen")
#: The most hosts one page or one answer of changes holds.
MAX_PAGE = 500
#: Words of free text a query may hold (each must match: MAC, name, DHCP hostname, IP,
#: profile), and the longest word.
MAX_WORDS = 8
MAX_WORD = 64


@dataclass(frozen=True)
class HostQuery:
    """Which hosts, in which order, which page. ``arch``: an option-93 code matched against
    the *effective* arch (``archsource.effective``: a MAC rule may correct the recorded
    code); ``words``: lower-case words each host must contain somewhere."""

    state: str | None = None
    arch: int | None = None
    profile: str | None = None
    label: tuple[str, str] | None = None
    words: tuple[str, ...] = ()
    sort: str = "id"
    descending: bool = False
    offset: int = 0
    limit: int = 100

    def __post_init__(self) -> None:
        if self.sort not in SORT_KEYS:
            raise ValueError(f"unknown sort key {self.sort!r}")
        if not 0 <= self.limit <= MAX_PAGE or self.offset < 0:
            raise ValueError("limit or offset out of range")


@dataclass(frozen=True)
class HostPage:
    """One page of a query: its hosts, how many match in all, and the facets: hosts per
    state (every filter but the state's) and per effective arch code (every filter but the
    arch's; ``None``: unknown). ``cursor``: where to ask ``host_changes`` from next."""

    hosts: list[Host]
    total: int
    states: dict[str, int]
    archs: dict[int | None, int]
    cursor: int


@dataclass(frozen=True)
class HostChanges:
    """Hosts written since a cursor, in the order they changed, each with whether it matches
    the query (``matching``: their ids). ``resync``: more changed than one answer holds, or a
    host was deleted: read the list again. ``page``: the query's facets and total afresh
    (None when nothing changed). ``cursor``: where to ask from next."""

    hosts: list[Host]
    matching: frozenset[int]
    cursor: int
    resync: bool
    page: HostPage | None = None
    removed: bool = field(default=False)
