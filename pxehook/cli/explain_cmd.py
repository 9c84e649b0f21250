"""``pxehook explain MAC``: why a machine boots what it boots, and the exact bytes."""

from __future__ import annotations

import click

from pxehook import wiring
from pxehook.boot.front import nginx_config
from pxehook.boot.prerender import Prerenderer
from pxehook.cli.output import json_option, plural, print_fields, print_json
from pxehook.cli.root import pass_lazy
from pxehook.errors import ConfigError
from pxehook.explain import explain_data


def register(cli: click.Group) -> None:
    cli.add_command(explain)
    cli.add_command(prerender)


@click.command()
@click.argument("mac", metavar="MAC|NAME")
@click.option("--path", help="Only the answer to this request path (e.g. pxelinux.cfg/01-MAC).")
@json_option
@pass_lazy
def explain(lazy, mac: str, path: str | None, as_json: bool) -> None:  # type: ignore[no-untyped-def]
    """Show the decision chain for a MAC or a host's name (arch and its source, state,
    profile, template) and the exact bytes each bootloader would receive. Records nothing."""
    data = explain_data(lazy.get(), mac, path)
    if as_json:
        print_json(data)
        return
    host = data["host"] or {}
    print_fields(
        [
            ("mac", data["mac"]),
            ("host", host.get("name") or ("(unknown: not in the store)" if not host else "")),
            ("state", host.get("state", "-")),
            ("profile", host.get("profile", "-")),
        ]
    )
    for answer in data["answers"]:
        click.echo("")
        click.echo(f"== {answer['loader']}: {answer['action']} (HTTP {answer['status']})")
        print_fields(
            [
                ("arch", f"{answer['arch'] or 'unknown'} (source: {answer['arch_source'] or '-'})"),
                ("profile", answer["profile"]),
                ("local boot", answer["local_method"]),
                ("template", answer["template"]),
            ]
        )
        for reason in answer["reasons"]:
            click.echo(f"  - {reason}")
        if answer["body"]:
            click.echo("-- bytes --")
            click.echo(answer["body"], nl=False)


@click.command()
@click.option("--nginx-config", "show_nginx", is_flag=True, help="Print the nginx server block.")
@click.option("--listen", default="0.0.0.0:80", show_default=True, help="nginx listen address.")
@pass_lazy
def prerender(lazy, show_nginx: bool, listen: str) -> None:  # type: ignore[no-untyped-def]
    """Render every host's per-MAC iPXE/PXELINUX config into prerender_dir once.

    'pxehook serve' keeps the directory current by itself when prerender_dir is set;
    this command fills it ahead of time or after a restore. With --nginx-config, print
    the nginx server block that serves it and proxies everything else to gunicorn.
    """
    ctx = lazy.get()
    s = ctx.settings
    if not s.prerender_dir:
        raise ConfigError("setting 'prerender_dir' is empty", hint="set PXEHOOK_PRERENDER_DIR")
    if show_nginx:
        log = s.access_log or "/var/log/nginx/pxehook.log"
        click.echo(nginx_config(s.prerender_dir, f"{s.bind}:{s.port}", listen, log), nl=False)
        return
    hooks = wiring.boot_hooks(ctx)
    count = Prerenderer(ctx, s.prerender_dir, hooks=hooks, parallel=True).sync()
    click.echo(f"pre-rendered {plural(count, 'host')} into {s.prerender_dir}")
