"""``pxehook arch``: the option-93 architecture table."""

from __future__ import annotations

import click

from pxehook import arch as archtable
from pxehook.cli.output import json_option, print_json, print_table
from pxehook.lifecycle.hosts import parse_arch


def register(cli: click.Group) -> None:
    cli.add_command(arch)


@click.group()
def arch() -> None:
    """The DHCP option-93 architecture table pxehook uses everywhere."""


@arch.command("list")
@json_option
@click.option("--supported", is_flag=True, help="Only architectures with a default loader.")
@click.option("--markdown", is_flag=True, help="Print the Markdown table used in the docs.")
def arch_list(as_json: bool, supported: bool, markdown: bool) -> None:
    """Print every option-93 code with firmware, CPU and default loaders."""
    rows = archtable.supported() if supported else list(archtable.TABLE)
    if markdown:
        click.echo(markdown_table(rows), nl=False)
        return
    if as_json:
        print_json([a.as_dict() for a in rows])
        return
    print_table(
        (
            [
                a.code,
                a.hex,
                a.slug,
                a.name,
                a.firmware,
                a.cpu,
                a.default_boot_mode or "",
                ", ".join(f"{boot_mode}={file}" for boot_mode, file in a.loaders.items()),
            ]
            for a in rows
        ),
        ["code", "hex", "slug", "name", "firmware", "cpu", "boot mode", "loaders"],
    )


@arch.command("show")
@click.argument("code")
@json_option
def arch_show(code: str, as_json: bool) -> None:
    """Show one architecture by code (decimal or 0x hex) or slug; unknown codes say so."""
    try:
        row = archtable.lookup(int(code, 0))
    except ValueError:
        row = archtable.BY_CODE[parse_arch(code)]
    if as_json:
        print_json(row.as_dict())
        return
    for key, value in row.as_dict().items():
        click.echo(f"{key:17} {value}")


def markdown_table(rows: list[archtable.Arch]) -> str:
    """The architecture table as Markdown (docs/architectures.md embeds it verbatim)."""
    lines = [
        "| code | hex | slug | name | firmware | cpu | default boot mode | loaders | dnsmasq tag |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for a in rows:
        loaders = (
            "<br>".join(f"{boot_mode}: `{file}`" for boot_mode, file in a.loaders.items()) or "—"
        )
        lines.append(
            f"| {a.code} | {a.hex} | `{a.slug}` | {a.name} | {a.firmware} | {a.cpu} | "
            f"{a.default_boot_mode or '—'} | {loaders} | `{a.dnsmasq_tag}` |"
        )
    return "\n".join(lines) + "\n"
