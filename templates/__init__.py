"""Packaged Jinja2 templates (the top-level templates/ folder of the source tree)."""
