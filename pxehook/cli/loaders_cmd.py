"""``pxehook loaders``: boot loaders from Debian's packages into the TFTP root."""

from __future__ import annotations

import os

import click

from pxehook.boot.loaders import BOOT_MODES
from pxehook.bootfiles import catalog, install
from pxehook.bootfiles.apt import Apt
from pxehook.bootfiles.manifest import Manifest
from pxehook.cli.output import json_option, print_json, print_table
from pxehook.cli.root import pass_lazy
from pxehook.errors import Conflict, NotFound

DEFAULT_CACHE = "/var/cache/pxehook/loaders"
HEADERS = ("file", "package", "version", "sha256", "action")


def register(cli: click.Group) -> None:
    cli.add_command(loaders)


@click.group()
def loaders() -> None:
    """Boot loaders (iPXE, shim + GRUB, PXELINUX) from Debian's packages."""


_arch = click.option(
    "--arch",
    "arches",
    multiple=True,
    metavar="SLUG",
    help="An architecture to fetch loaders for (repeatable; default: setting loader_arches).",
)
_mode = click.option(
    "--mode",
    "modes",
    multiple=True,
    type=click.Choice(BOOT_MODES),
    help="A boot mode to fetch loaders for (repeatable; default: each arch's mode in force).",
)
_http_dir = click.option(
    "--http-dir",
    metavar="DIR",
    help="Also put the loaders here: the directory http_boot_url serves (UEFI HTTP boot).",
)


def _roots(settings, http_dir: str | None) -> list[str]:  # type: ignore[no-untyped-def]
    return [os.path.abspath(d) for d in [settings.tftp_root] + ([http_dir] if http_dir else [])]


def _table(rows: list[install.Row]) -> None:
    print_table([(r.path, r.package, r.version, r.sha256, r.action) for r in rows], HEADERS)


@loaders.command("install")
@_arch
@_mode
@_http_dir
@click.option("--force", is_flag=True, help="Replace files pxehook did not install.")
@click.option("--check", is_flag=True, help="Say what would change; write nothing.")
@click.option(
    "--skip-unavailable", is_flag=True, help="A loader Debian does not package is a note only."
)
@click.option(
    "--cache", default=DEFAULT_CACHE, show_default=True, metavar="DIR", help="Download cache."
)
@json_option
@pass_lazy
def loaders_install(  # type: ignore[no-untyped-def]
    lazy, arches, modes, http_dir, force, check, skip_unavailable, cache, as_json
) -> None:
    """Fetch the loaders the site's architectures boot and put them into tftp_root.

    Each file comes from a Debian package (apt-get download + dpkg-deb -x into the cache;
    nothing is installed; arm64 packages through apt lists of their own). A file already
    there that pxehook did not install (or that changed since) is left alone unless
    --force. What was installed is recorded in STATE_DIR/loaders.json, so a second run
    changes nothing. Exit 7 when a file was left alone, 4 when a loader is not packaged.
    """
    settings = lazy.get().settings
    wanted = catalog.wanted(settings, list(arches), list(modes))
    manifest = Manifest(settings.state_dir)
    rows = install.run(
        wanted, _roots(settings, http_dir), Apt(cache), manifest, force=force, check=check
    )
    changed = any(r.action in install.CHANGES for r in rows)
    if as_json:
        print_json({"changed": changed, "check": check, "files": [r.as_dict() for r in rows]})
    else:
        _table(rows)
    _finish(rows, wanted, skip_unavailable)


def _finish(rows: list[install.Row], wanted: list[catalog.Wanted], skip: bool) -> None:
    for item in wanted:
        if not item.parts:
            click.echo(
                f"pxehook: note: Debian packages no {item.loader} (for {', '.join(item.arches)}): "
                "put it into tftp_root yourself",
                err=True,
            )
    refused = [r.path for r in rows if r.action == install.REFUSED]
    if refused:
        raise Conflict(
            f"{len(refused)} file(s) not installed by pxehook left alone: {', '.join(refused)}",
            hint="--force replaces them",
        )
    unpackaged = [w.loader for w in wanted if not w.parts]
    if unpackaged and not skip:
        raise NotFound(
            f"not packaged by Debian: {', '.join(unpackaged)}",
            hint="drop those architectures or modes, or --skip-unavailable",
        )


@loaders.command("list")
@_arch
@_mode
@_http_dir
@json_option
@pass_lazy
def loaders_list(lazy, arches, modes, http_dir, as_json) -> None:  # type: ignore[no-untyped-def]
    """Show each loader file the site needs: installed (by pxehook), modified, foreign
    (put there by someone else), missing or not packaged; no network."""
    settings = lazy.get().settings
    wanted = catalog.wanted(settings, list(arches), list(modes))
    rows = install.status(wanted, _roots(settings, http_dir), Manifest(settings.state_dir))
    if as_json:
        print_json([r.as_dict() for r in rows])
    else:
        print_table(
            [(r.path, r.package, r.version, r.sha256, r.action) for r in rows],
            ("file", "package", "version", "sha256", "state"),
        )
