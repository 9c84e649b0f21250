"""Capture every machine that boots (docs/capture.md).

``hooks/pxehook-hook.c`` (or ``hook_py.py``) appends one record per hook call to the spool
(``spool.py``); ``ingest.py`` applies the spool in order, off the DHCP path; ``readers.py``
hands each record to its daemon's reader (``dnsmasq.py``, ``isc.py``, ``kea.py``: one per
daemon in pxehook/daemons.py), which turns it into sightings (``sightings.py``);
``apply.py`` merges sightings into the store and the hosts' timelines. ``leases.py``
(lease-file watcher) and ``listener.py`` (passive DHCP listener) feed ``apply.py`` too.
``build.py`` compiles/installs the hook; ``service.py`` runs it all in ``pxehook serve``.
"""
