"""``pxehook man``: the manual page pxehook(1), generated from the commands themselves (the
same help texts as ``--help`` and docs/cli.md, so it cannot say something else)."""

from __future__ import annotations

import inspect

import click

from pxehook import __version__
from pxehook.config import SETTINGS

#: The date in the page's header: when its layout last changed (not today: the page of a
#: release must not change from one build to the next).
PAGE_DATE = "2026-12-07"


def register(cli: click.Group) -> None:
    cli.add_command(man)


@click.command()
@click.pass_context
def man(ctx: click.Context) -> None:
    """Print the manual page pxehook(1) (roff): pxehook man > /usr/local/share/man/man1/pxehook.1"""
    root = ctx.find_root().command
    click.echo(manual(root), nl=False)


def roff(text: str) -> str:
    """``text`` safe in a roff line: backslashes escaped, other than ASCII as named glyphs,
    no line read as a request."""
    text = text.replace("\\", "\\e")
    text = "".join(c if c.isascii() else f"\\[u{ord(c):04X}]" for c in text)
    lines = []
    for line in text.splitlines():
        lines.append("\\&" + line if line.startswith((".", "'")) else line)
    return "\n".join(lines)


def manual(root: click.Command) -> str:
    """The whole page for the root command ``root``."""
    out = [
        f'.TH PXEHOOK 1 "{PAGE_DATE}" "pxehook {__version__}" "pxehook manual"',
        ".ad l",
        ".SH NAME",
        "pxehook \\- per-machine network-boot control beside your existing DHCP server",
        ".SH SYNOPSIS",
        ".B pxehook",
        "[\\fIOPTIONS\\fR] \\fICOMMAND\\fR [\\fIARGS\\fR]...",
        ".SH DESCRIPTION",
        roff(inspect.cleandoc(root.help or "")),
        ".SH OPTIONS",
        *_options(click.Context(root, info_name="pxehook"), root),
        ".SH COMMANDS",
    ]
    _walk(root, ["pxehook"], out)
    out += [
        ".SH ENVIRONMENT",
        "Every setting can be given as \\fBPXEHOOK_\\fR\\fINAME\\fR (upper case); "
        "\\fBPXEHOOK_CONFIG\\fR names the settings file.",
        *[f".TP\n.B {s.env}\n{roff(s.help)}" for s in SETTINGS],
        ".SH FILES",
        ".TP\n.I /etc/pxehook/pxehook.yaml\nThe settings file (when it exists).",
        ".SH SHELL COMPLETION",
        'bash: \\fBeval "$(_PXEHOOK_COMPLETE=bash_source pxehook)"\\fR in ~/.bashrc, or '
        "its output saved as /etc/bash_completion.d/pxehook. zsh and fish: "
        "\\fBzsh_source\\fR, \\fBfish_source\\fR.",
        ".SH SEE ALSO",
        "The documentation in docs/ of the source: operations.md, configuration.md, cli.md.",
        "",
    ]
    return "\n".join(out)


def _walk(cmd: click.Command, path: list[str], out: list[str]) -> None:
    if isinstance(cmd, click.Group):
        for name in sorted(cmd.commands):
            _walk(cmd.commands[name], [*path, name], out)
        return
    ctx = click.Context(cmd, info_name=" ".join(path))
    usage = " ".join(cmd.collect_usage_pieces(ctx))
    out += [f".SS {roff(' '.join(path[1:]))}", f".B {roff(' '.join(path))}", roff(usage)]
    out += [".PP", roff(inspect.cleandoc(cmd.help or "")), *_options(ctx, cmd)]


def _options(ctx: click.Context, cmd: click.Command) -> list[str]:
    lines = []
    for param in cmd.get_params(ctx):
        record = param.get_help_record(ctx)
        if record is None:
            continue
        names, text = record
        lines += [".TP", f".B {roff(names).replace('-', chr(92) + '-')}", roff(text)]
    return lines
