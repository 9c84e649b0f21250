"""What differs between the SQL databases the store runs on, and nothing else.

``SQLStore`` (``sql.py``) writes every query once, with ``?`` placeholders; a ``Dialect``
supplies connecting, transactions, the retry decision and error translation, JSON columns,
the last-insert id, the label filter, the schema-version record and the DDL types the one
migration list (``migrations.py``) leaves open.
"""

from __future__ import annotations

import enum
import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from typing import Any, ClassVar

from pxehook.errors import PxehookError
from pxehook.store.leader import LeaderLock


class Retry(enum.Enum):
    """What to do about a failed transaction."""

    NO = "no"  # report it
    BUSY = "busy"  # locked or serialisation failure: wait and retry until the time-out
    RACE = "race"  # another writer just committed the same key: retry a few times


class Dialect(ABC):
    """One database: where it is, how to talk to it, and its few SQL differences."""

    #: "database /var/lib/pxehook/pxehook.db" or "database (host=… dbname=…)", for messages
    label: str
    #: how long a writer waits for a lock (and the retry loop for its turn)
    busy_timeout_ms: int
    #: the driver's base exception class: everything the retry loop catches
    error: type[Exception]
    #: the driver's placeholder, written ``?`` in the shared SQL
    placeholder: str = "?"
    #: appended to a SELECT of a row the transaction will update ("" where a write
    #: transaction already holds the whole database)
    for_update: str = ""
    #: the fills the migration steps leave open: {id}, {ref}, {real}, {json} (column
    #: types) and {now} (the current time in Unix seconds)
    column_types: ClassVar[Mapping[str, str]]

    def sql(self, text: str) -> str:
        """``text`` with its ``?`` placeholders in the driver's style (the shared SQL has
        no other ``?``, nor any ``%``)."""
        return text if self.placeholder == "?" else text.replace("?", self.placeholder)

    # connections and transactions ------------------------------------------------------
    @abstractmethod
    def connect(self) -> Any:
        """A new connection (the store's pool lends it to one transaction at a time)."""

    def is_open(self, conn: Any) -> bool:
        """False when ``conn`` can no longer be used and must be replaced."""
        return True

    @abstractmethod
    def transaction(self, conn: Any, *, write: bool) -> AbstractContextManager[Any]:
        """Open a transaction on ``conn``, yielding a cursor (committed on a normal exit,
        rolled back on an exception). A read transaction sees one consistent snapshot; a
        write transaction is serialised with other writers where they could conflict."""

    @abstractmethod
    def retry(self, exc: Exception) -> Retry:
        """Whether the driver error ``exc`` is worth running the transaction again."""

    @abstractmethod
    def translate(self, exc: Exception) -> PxehookError:
        """The pxehook error to report for the driver error ``exc``."""

    def broken(self, exc: Exception) -> bool:
        """True when ``exc`` means the connection must be dropped."""
        return False

    # SQL differences ---------------------------------------------------------------------
    def json_param(self, value: Any) -> Any:
        """A parameter for a JSON column (here: its text)."""
        return dump_json(value)

    def json_value(self, raw: Any) -> Any:
        """The Python value of a JSON column as the driver returns it (here: text)."""
        return json.loads(raw)

    @abstractmethod
    def label_filter(self, key: str, value: str) -> tuple[str, list[Any]]:
        """A WHERE clause (``?`` placeholders) and its arguments: hosts whose label
        ``key`` equals ``value``."""

    @abstractmethod
    def json_text(self, column: str, key: str) -> str:
        """An SQL expression: the text of the top-level ``key`` of the JSON ``column`` (both
        literals of the store's own SQL, never a caller's value)."""

    @abstractmethod
    def insert_id(self, cursor: Any, sql: str, args: tuple[Any, ...]) -> int:
        """Run the INSERT ``sql`` (already rendered) and return the new row's ``id``."""

    @abstractmethod
    def new_ids(self, tx: Tx, table: str, n: int) -> list[int]:
        """``n`` ids, ascending, for rows this write transaction inserts into ``table`` (a
        literal of the store's) with their ids written out, so a batch of them is one
        statement run; no other writer takes them. Ids left unused are gaps, never reused."""

    # schema ---------------------------------------------------------------------------------
    @abstractmethod
    def schema_version(self, tx: Tx) -> int:
        """How many migration steps this database has run (0 when it is empty)."""

    @abstractmethod
    def lock_schema(self, tx: Tx) -> int:
        """Take the migration lock for this write transaction; return the version."""

    @abstractmethod
    def set_schema_version(self, tx: Tx, version: int) -> None: ...

    @abstractmethod
    def run_script(self, tx: Tx, script: str) -> None:
        """Run a migration step (several statements) inside the transaction."""

    @abstractmethod
    def append_only_trigger(self, table: str) -> str:
        """DDL refusing every UPDATE of ``table`` with "<table> are append-only"."""

    # racks ------------------------------------------------------------------------------
    @abstractmethod
    def leader_lock(self) -> LeaderLock:
        """The fleet's leader lock on this database (``store/leader.py``)."""

    def generation_moved(self, tx: Tx) -> None:
        """The transaction just grew the generation: tell other processes at commit, where
        the database can (here: nobody is told; readers poll)."""
        return None

    # what changed since a cursor (store/sql_listing.py) --------------------------------------
    @abstractmethod
    def change_stamp_trigger(self, table: str) -> str:
        """DDL stamping every row of ``table`` a write inserts or updates with a change
        number in its ``changed`` column, and every delete in server value
        ``<table>_removed``: numbers a reader's :meth:`change_cursor` never passes while
        the writer's transaction may still commit."""

    @abstractmethod
    def insert_stamp_ddl(self, table: str) -> str:
        """DDL (migration step 8) after which each INSERT into ``table`` writes its row's
        change number itself (:meth:`insert_stamp`) where a per-row trigger wrote it as a
        second write of the row; "" where the trigger stamps the row as it is written."""

    @abstractmethod
    def insert_stamp(self, tx: Tx) -> int:
        """The value of ``changed`` for the rows this transaction inserts from now on (the
        stamp :meth:`change_stamp_trigger` gives an update); 0 where the database's trigger
        stamps each inserted row. Every INSERT INTO hosts writes it."""

    #: a query returning the cursor of the reader's snapshot: every change a later reader
    #: may see that this one does not is stamped at or above it
    change_cursor: str


class Tx:
    """One open transaction: runs the shared ``?``-placeholder SQL through the dialect."""

    __slots__ = ("cursor", "dialect")

    def __init__(self, cursor: Any, dialect: Dialect) -> None:
        self.cursor = cursor
        self.dialect = dialect

    def run(self, sql: str, args: tuple[Any, ...] | list[Any] = ()) -> Any:
        """Execute one statement; returns the driver's cursor (rowcount, fetch…)."""
        return self.cursor.execute(self.dialect.sql(sql), args)

    def one(self, sql: str, args: tuple[Any, ...] | list[Any] = ()) -> Any:
        """The first row of a query, or None."""
        return self.run(sql, args).fetchone()

    def all(self, sql: str, args: tuple[Any, ...] | list[Any] = ()) -> list[Any]:
        """Every row of a query."""
        return list(self.run(sql, args).fetchall())

    def many(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        """Execute one statement for each of ``rows``."""
        self.cursor.executemany(self.dialect.sql(sql), rows)

    def insert(self, sql: str, args: tuple[Any, ...]) -> int:
        """Run an INSERT into a table with an ``id`` key; return the new id."""
        return self.dialect.insert_id(self.cursor, self.dialect.sql(sql), args)


_ENCODER = json.JSONEncoder(sort_keys=True)  # built once: json.dumps would build one per call


def _c_encode() -> Callable[[Any], str]:
    """``_ENCODER.encode``, without building the C encoder again on every call (a third of
    the cost of a small document); values never hold cycles (parsed YAML and JSON), so
    the encoder keeps no record of the containers it is in (a cycle: RecursionError)."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # no C accelerator in this Python
        return _ENCODER.encode
    chunks = make(
        None, _ENCODER.default, json.encoder.encode_basestring_ascii, None, ": ", ", ",
        True, False, True,
    )  # fmt: skip
    return lambda value: "".join(chunks(value, 0))


_encode = _c_encode()


class EncodedJson(str):
    """JSON text ``encode_json`` made: written as it is (one payload encoded once for the
    many timeline rows that carry it)."""


#: A timeline row's payload: a dict, or its JSON text encoded once for many rows.
EventData = dict[str, Any] | EncodedJson


def encode_json(value: Any) -> EncodedJson:
    """``value`` as the store would write it, encoded now."""
    return EncodedJson(dump_json(value))


def dump_json(value: Any) -> str:
    """The one JSON text of ``value`` the store writes (keys sorted)."""
    if isinstance(value, EncodedJson):
        return value
    return "{}" if value == {} else _encode(value)
