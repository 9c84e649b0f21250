"""The ``pxehook`` command: one boundary turns known errors into one line and an exit code."""

from __future__ import annotations

import sys

import click

from pxehook.cli.root import cli
from pxehook.errors import ExitCode, PxehookError

__all__ = ["cli", "main"]


def main(argv: list[str] | None = None) -> int:
    """Console entry point. Returns (and exits with) a named exit code."""
    try:
        cli.main(args=argv, prog_name="pxehook", standalone_mode=False)
    except PxehookError as exc:
        click.echo(f"pxehook: error: {exc}", err=True)
        sys.exit(int(exc.exit_code))
    except click.exceptions.Abort:
        click.echo("pxehook: aborted", err=True)
        sys.exit(int(ExitCode.ERROR))
    except click.ClickException as exc:
        exc.show()
        sys.exit(int(ExitCode.USAGE))
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except BrokenPipeError:
        sys.exit(int(ExitCode.OK))
    except KeyboardInterrupt:
        sys.exit(130)
    return 0
