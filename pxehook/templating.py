"""The Jinja2 environment: strict undefined, site templates first, packaged ones last.

``environment(site_dir, reload=False)`` compiles each template once per process and keeps
it (with Jinja's ``auto_reload`` every render stats every template file it uses): a
long-running process that must follow edits asks :func:`stamp` now and then and calls
:func:`forget` when it moved (the boot resolver does, at most once a second:
``boot/resolver.py``). The default environment reloads as Jinja does.
"""

from __future__ import annotations

import contextlib
import os
from functools import lru_cache
from importlib import resources
from typing import Any

import jinja2

from pxehook.errors import ConfigError


def packaged_templates_dir() -> str:
    """Directory of the templates shipped with pxehook (top-level ``templates/`` in git)."""
    return str(resources.files("pxehook.templates"))


@lru_cache(maxsize=8)
def environment(
    site_dir: str = "", *, autoescape: bool = False, reload: bool = True
) -> jinja2.Environment:
    """A strict environment; ``site_dir`` (setting ``site_templates``) overrides by name;
    ``reload=False``: templates compiled once, until :func:`forget`."""
    search = [site_dir] if site_dir else []
    search.append(packaged_templates_dir())
    # Boot scripts are not HTML: each format escapes through its own filters (render_filters).
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(search),
        undefined=jinja2.StrictUndefined,
        autoescape=autoescape,  # noqa: S701
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=reload,
    )
    return env


def stamp(site_dir: str = "") -> tuple[tuple[str, int, int], ...]:
    """(path, mtime in ns, size) of every template file ``environment(site_dir)`` may load:
    equal stamps, same templates."""
    found = []
    for folder in (site_dir, packaged_templates_dir()):
        for top, _dirs, names in os.walk(folder) if folder else ():
            for name in names:
                path = os.path.join(top, name)
                with contextlib.suppress(OSError):
                    info = os.stat(path)
                    found.append((path, info.st_mtime_ns, info.st_size))
    return tuple(sorted(found))


def forget() -> None:
    """Drop every compiled template of this process: the next render reads the files."""
    environment.cache_clear()


def render(name: str, context: dict[str, Any], *, site_dir: str = "") -> str:
    """Render template ``name``; a missing variable or template is a ConfigError."""
    try:
        return environment(site_dir).get_template(name).render(**context)
    except jinja2.UndefinedError as exc:
        raise ConfigError(f"template {name}: {exc.message}") from None
    except jinja2.TemplateNotFound as exc:
        raise ConfigError(
            f"template {exc.name} not found in "
            f"{site_dir or '(no site dir)'} or the packaged templates"
        ) from None
    except jinja2.TemplateSyntaxError as exc:
        raise ConfigError(f"template {exc.filename or name}:{exc.lineno}: {exc.message}") from None
