"""Schema migrations for the SQL back ends: an ordered list, applied once each.

Never edit a released step; append a new one. ``PRAGMA user_version`` (SQLite) records how
many steps ran.
"""

from __future__ import annotations

STEPS: tuple[str, ...] = (
    # 1: hosts, their MACs, the append-only event log, profiles, tokens, meta.
    """
    CREATE TABLE hosts (
        id            INTEGER PRIMARY KEY AUTOINCREMENT,
        name          TEXT NOT NULL DEFAULT '',
        uuid          TEXT NOT NULL DEFAULT '',
        arch          INTEGER,
        arch_source   TEXT NOT NULL DEFAULT '',
        ip            TEXT NOT NULL DEFAULT '',
        vendor_class  TEXT NOT NULL DEFAULT '',
        user_class    TEXT NOT NULL DEFAULT '',
        first_seen    REAL,
        last_seen     REAL,
        profile       TEXT NOT NULL DEFAULT '',
        state         TEXT NOT NULL DEFAULT 'new',
        state_changed REAL,
        labels        TEXT NOT NULL DEFAULT '{}',
        vars          TEXT NOT NULL DEFAULT '{}',
        meta          TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX hosts_ip ON hosts(ip);
    CREATE INDEX hosts_uuid ON hosts(uuid);
    CREATE INDEX hosts_state ON hosts(state);
    CREATE TABLE host_macs (
        mac      TEXT PRIMARY KEY,
        host_id  INTEGER NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,
        position INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX host_macs_host ON host_macs(host_id);
    CREATE TABLE events (
        id       INTEGER PRIMARY KEY AUTOINCREMENT,
        host_id  INTEGER NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,
        at       REAL NOT NULL,
        kind     TEXT NOT NULL,
        source   TEXT NOT NULL,
        message  TEXT NOT NULL DEFAULT '',
        data     TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX events_host ON events(host_id, id);
    CREATE TRIGGER events_append_only BEFORE UPDATE ON events
    BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
    CREATE TABLE profiles (
        name TEXT PRIMARY KEY,
        data TEXT NOT NULL
    );
    CREATE TABLE tokens (
        name    TEXT PRIMARY KEY,
        digest  TEXT NOT NULL UNIQUE,
        scope   TEXT NOT NULL,
        created REAL NOT NULL
    );
    CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    INSERT INTO meta(key, value) VALUES ('generation', '0');
    """,
)

LATEST = len(STEPS)
