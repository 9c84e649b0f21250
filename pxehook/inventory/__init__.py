"""The YAML inventory: parse, check, apply to the store, watch for saves."""
