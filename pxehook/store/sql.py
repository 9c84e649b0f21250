"""The ``Store`` protocol written once, in SQL both back ends run, over a ``Dialect``.

Assembled from ``sql_hosts.HostReadSQL`` (host reads, whole-host writes, observations),
``sql_writes.HostWriteSQL`` (conditional patches, state changes, batches),
``sql_inventory.InventorySQL`` (what the inventory declared), ``sql_listing.ListingSQL``
(the fleet page's filtered pages and changes), ``sql_records.RecordSQL`` (timeline,
profiles, tokens, server values) and ``sql_prune.PruneSQL`` (the timeline's retention) over
``sqlcore.SQLCore`` (transactions, schema, row helpers). A dialect module per database
(``sqlite.py``, ``postgres.py``) holds only what really differs.
"""

from __future__ import annotations

from pxehook.store.sql_inventory import InventorySQL
from pxehook.store.sql_listing import ListingSQL
from pxehook.store.sql_prune import PruneSQL
from pxehook.store.sql_records import RecordSQL


class SQLStore(InventorySQL, ListingSQL, RecordSQL, PruneSQL):
    """The ``Store`` protocol over one SQL database, through its ``Dialect``."""
