"""The Jinja2 environment: strict undefined, site templates first, packaged ones last."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import Any

import jinja2

from pxehook.errors import ConfigError


def packaged_templates_dir() -> str:
    """Directory of the templates shipped with pxehook (top-level ``templates/`` in git)."""
    return str(resources.files("pxehook.templates"))


@lru_cache(maxsize=8)
def environment(site_dir: str = "", *, autoescape: bool = False) -> jinja2.Environment:
    """A strict environment; ``site_dir`` (setting ``site_templates``) overrides by name."""
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
    )
    return env


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
