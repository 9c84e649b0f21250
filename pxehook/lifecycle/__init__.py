"""Machine life-cycle: the transition table, automatic transitions, callbacks, host edits."""
