"""Machine life-cycle: how a host moves between the states of ``models.STATES``.

- ``table``: THE transition table (``OPERATIONS``) and ``transition``, the only code that
  changes a host's state (compare-and-set, one ``state.changed`` event naming who did it);
- ``auto``: the transitions nobody types (boot-once, deploy time-out, auto-adopt, the sweep);
- ``callback``: the installer's install-done callback and its per-deployment token;
- ``hosts``: host edits shared by the CLI, the API and the inventory (find, change, delete);
- ``clone``: copy one host's profile, variables and labels onto others;
- ``hooks``: the life-cycle's side of the boot seam (``boot.hooks.BootHooks``);
- ``service``: the background sweeper ``pxehook serve`` runs.

What each state boots is the resolver's business (``boot/decide.py``, from the ``boots``
column of ``models.STATES``). This package sits above ``store`` and ``boot``, below the edges
(``web``, ``cli``, ``services``); ``pxehook.wiring`` plugs ``hooks`` into the resolver.
"""
