"""Schema migrations: ONE ordered list of steps for every SQL back end, applied once each.

Never edit a released step; append a new one. A step is written once; the few words that
differ between databases are placeholders the dialect fills in:

- ``{id}``: an auto-numbered integer primary key; ``{ref}``: a column referencing one;
- ``{real}``: a double-precision float; ``{json}``: a JSON document (TEXT / JSONB);
- ``{append_only:TABLE}``: a trigger refusing every UPDATE of TABLE;
- ``{change_stamp:TABLE}``: triggers stamping each written row's ``changed`` column and
  each delete (``Dialect.change_stamp_trigger``); ``{insert_stamp:TABLE}``: inserts
  written with their stamp instead (``Dialect.insert_stamp_ddl``);
- ``{now}``: the current time in Unix seconds (an expression).

SQLite's ``PRAGMA user_version`` and PostgreSQL's ``pxehook_schema`` row record how many
steps ran (the numbering is the same on both).
"""

from __future__ import annotations

import re

from pxehook.store.dialect import Dialect

STEPS: tuple[str, ...] = (
    # 1: hosts, their MACs, the append-only event log, profiles, tokens, meta (released).
    """
    CREATE TABLE hosts (
        id            {id},
        name          TEXT NOT NULL DEFAULT '',
        uuid          TEXT NOT NULL DEFAULT '',
        arch          INTEGER,
        arch_source   TEXT NOT NULL DEFAULT '',
        ip            TEXT NOT NULL DEFAULT '',
        vendor_class  TEXT NOT NULL DEFAULT '',
        user_class    TEXT NOT NULL DEFAULT '',
        first_seen    {real},
        last_seen     {real},
        profile       TEXT NOT NULL DEFAULT '',
        state         TEXT NOT NULL DEFAULT 'new',
        state_changed {real},
        labels        {json} NOT NULL DEFAULT '{}',
        vars          {json} NOT NULL DEFAULT '{}',
        meta          {json} NOT NULL DEFAULT '{}'
    );
    CREATE INDEX hosts_ip ON hosts(ip);
    CREATE INDEX hosts_uuid ON hosts(uuid);
    CREATE INDEX hosts_state ON hosts(state);
    CREATE TABLE host_macs (
        mac      TEXT PRIMARY KEY,
        host_id  {ref} NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,
        position INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX host_macs_host ON host_macs(host_id);
    CREATE TABLE events (
        id       {id},
        host_id  {ref} NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,
        at       {real} NOT NULL,
        kind     TEXT NOT NULL,
        source   TEXT NOT NULL,
        message  TEXT NOT NULL DEFAULT '',
        data     {json} NOT NULL DEFAULT '{}'
    );
    CREATE INDEX events_host ON events(host_id, id);
    {append_only:events}
    CREATE TABLE profiles (
        name TEXT PRIMARY KEY,
        data {json} NOT NULL
    );
    CREATE TABLE tokens (
        name    TEXT PRIMARY KEY,
        digest  TEXT NOT NULL UNIQUE,
        scope   TEXT NOT NULL,
        created {real} NOT NULL
    );
    CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    INSERT INTO meta(key, value) VALUES ('generation', '0');
    """,
    # 2: the server's own key-value table (generation counter, deploy secret) is
    # server_values, so "meta" means only a host's life-cycle bookkeeping (hosts.meta).
    # A new table and a copy rather than a rename: PostgreSQL would keep the key's
    # constraint name meta_pkey.
    """
    CREATE TABLE server_values (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    INSERT INTO server_values(key, value) SELECT key, value FROM meta;
    DROP TABLE meta;
    """,
    # 3: where each host's IP came from (only trusted sources authorise by IP), the DHCP
    # hostname as a fact of its own, and unique identities: names and UUIDs. A name held
    # by several hosts stays on the oldest and becomes the others' DHCP hostname; a
    # placeholder UUID (one repeated digit, or firmware's 03000200-…) or one an older host
    # holds is cleared. Each move is a timeline event.
    """
    ALTER TABLE hosts ADD COLUMN ip_source TEXT NOT NULL DEFAULT '';
    ALTER TABLE hosts ADD COLUMN dhcp_hostname TEXT NOT NULL DEFAULT '';
    INSERT INTO events(host_id, at, kind, source, message)
        SELECT h.id, {now}, 'host.renamed', 'migration',
               'name ' || h.name || ' is an older host''s: kept as the DHCP hostname'
        FROM hosts h
        WHERE h.name <> '' AND EXISTS (SELECT 1 FROM hosts o WHERE o.name = h.name AND o.id < h.id);
    UPDATE hosts SET dhcp_hostname = name, name = ''
        WHERE name <> ''
          AND EXISTS (SELECT 1 FROM hosts o WHERE o.name = hosts.name AND o.id < hosts.id);
    INSERT INTO events(host_id, at, kind, source, message)
        SELECT h.id, {now}, 'uuid.cleared', 'migration',
               'UUID ' || h.uuid || ' is a placeholder or an older host''s: cleared'
        FROM hosts h
        WHERE h.uuid <> '' AND (
            REPLACE(REPLACE(h.uuid, '-', ''), SUBSTR(h.uuid, 1, 1), '') = ''
            OR h.uuid = '03000200-0400-0500-0006-000700080009'
            OR EXISTS (SELECT 1 FROM hosts o WHERE o.uuid = h.uuid AND o.id < h.id));
    UPDATE hosts SET uuid = ''
        WHERE uuid <> '' AND (
            REPLACE(REPLACE(uuid, '-', ''), SUBSTR(uuid, 1, 1), '') = ''
            OR uuid = '03000200-0400-0500-0006-000700080009'
            OR EXISTS (SELECT 1 FROM hosts o WHERE o.uuid = hosts.uuid AND o.id < hosts.id));
    CREATE UNIQUE INDEX hosts_name_unique ON hosts(name) WHERE name <> '';
    CREATE UNIQUE INDEX hosts_uuid_unique ON hosts(uuid) WHERE uuid <> '';
    """,
    # 4: conditional writes and what the inventory owns. hosts.version grows with every
    # write to the row (a write conditional on it fails when the row changed since it was
    # read); state_clock/state_boot stamp a state change on the boot-time clock, so time-outs
    # survive wall-clock steps. inventory_hosts: per host, what the inventory declared at
    # its last apply (fields, values, lines) and a fingerprint of its text; inventory_files:
    # the fingerprint of the whole file last applied ('' once anything it owns changed
    # elsewhere), its host count and the line and fingerprint of each group.
    """
    ALTER TABLE hosts ADD COLUMN version INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE hosts ADD COLUMN state_clock {real};
    ALTER TABLE hosts ADD COLUMN state_boot TEXT NOT NULL DEFAULT '';
    CREATE TABLE inventory_hosts (
        host_id  {ref} PRIMARY KEY REFERENCES hosts(id) ON DELETE CASCADE,
        path     TEXT NOT NULL,
        line     INTEGER NOT NULL,
        digest   TEXT NOT NULL,
        profile  TEXT NOT NULL DEFAULT '',
        groups   TEXT NOT NULL DEFAULT '',
        macs     TEXT NOT NULL DEFAULT '',
        declared {json} NOT NULL DEFAULT '{}'
    );
    CREATE TABLE inventory_files (
        path   TEXT PRIMARY KEY,
        digest TEXT NOT NULL,
        info   {json} NOT NULL DEFAULT '{}'
    );
    """,
    # 5: racks. Each event names the rack (setting rack_name) whose pxehook recorded it:
    # several resolvers share one database and the timeline shows which rack saw what.
    """
    ALTER TABLE events ADD COLUMN rack TEXT NOT NULL DEFAULT '';
    """,
    # 6: pruning the timeline (store/retention.py) without scanning it: events by age, and
    # each host's state changes (a deployment's start is the newest kept).
    """
    CREATE INDEX events_at ON events(at, id);
    CREATE INDEX events_state ON events(host_id, id) WHERE kind = 'state.changed';
    """,
    # 7: the fleet page's reads. hosts.changed: a change number every insert and update of
    # the row stamps (a counter on SQLite, the writer's transaction id on PostgreSQL), so
    # "what changed since" reads only the changed rows; server value hosts_removed: the
    # number of the last delete. Indexes for the list's filters and sorts.
    """
    ALTER TABLE hosts ADD COLUMN changed BIGINT NOT NULL DEFAULT 0;
    INSERT INTO server_values(key, value) VALUES ('host_changes', '0');
    INSERT INTO server_values(key, value) VALUES ('hosts_removed', '0');
    CREATE INDEX hosts_changed ON hosts(changed);
    CREATE INDEX hosts_profile ON hosts(profile);
    CREATE INDEX hosts_last_seen ON hosts(last_seen);
    CREATE INDEX hosts_state_arch ON hosts(state, arch);
    CREATE INDEX hosts_name ON hosts(name);
    {change_stamp:hosts}
    """,
    # 8: each INSERT INTO hosts writes its row's change stamp (``Dialect.insert_stamp``)
    # where a per-row trigger wrote it a second time (SQLite: an UPDATE of the new row and
    # of the counter per insert: two thirds of what each new row cost). SELECT 1:
    # where nothing differs (PostgreSQL's trigger sets the row as it is written) the step
    # is still a statement.
    """
    {insert_stamp:hosts}
    SELECT 1;
    """,
)

LATEST = len(STEPS)

_PLACEHOLDER = re.compile(r"\{(\w+)(?::(\w+))?\}")


def render(step: str, dialect: Dialect) -> str:
    """``step`` in ``dialect``'s words; a multi-line fill keeps its placeholder's indent."""
    lines = []
    for line in step.splitlines():
        indent = line[: len(line) - len(line.lstrip())]

        def fill(match: re.Match[str], indent: str = indent) -> str:
            name, arg = match.group(1), match.group(2)
            if name == "append_only" and arg:
                text = dialect.append_only_trigger(arg)
            elif name == "change_stamp" and arg:
                text = dialect.change_stamp_trigger(arg)
            elif name == "insert_stamp" and arg:
                text = dialect.insert_stamp_ddl(arg)
            elif name in dialect.column_types and not arg:
                text = dialect.column_types[name]
            else:
                raise KeyError(f"migration placeholder {match.group(0)} is not known")
            return text.replace("\n", "\n" + indent)

        lines.append(_PLACEHOLDER.sub(fill, line))
    return "\n".join(lines) + "\n"
