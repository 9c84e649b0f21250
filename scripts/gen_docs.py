"""Regenerate the generated parts of docs/ (or check them with --check).

Generated blocks sit between ``<!-- BEGIN GENERATED: name -->`` and
``<!-- END GENERATED: name -->`` markers:
  docs/architectures.md  arch-table   (pxehook arch list --markdown)
  docs/configuration.md  settings     (pxehook config docs)
  docs/cli.md            cli          (--help of every command)
and whole generated files:
  docs/pxehook.1         the manual page (pxehook man)

    .venv/bin/python scripts/gen_docs.py          # rewrite
    .venv/bin/python scripts/gen_docs.py --check  # exit 1 and name the file when stale
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pxehook import arch  # noqa: E402
from pxehook.cli.arch_cmd import markdown_table  # noqa: E402
from pxehook.cli.man_cmd import manual  # noqa: E402
from pxehook.cli.root import cli  # noqa: E402
from pxehook.config import docs_table  # noqa: E402


def cli_reference() -> str:
    out: list[str] = []

    def walk(cmd: click.Command, path: list[str]) -> None:
        ctx = click.Context(
            cmd,
            info_name=" ".join(path),
            terminal_width=100,
            max_content_width=100,
            help_option_names=["-h", "--help"],
        )
        out.append(f"### `{' '.join(path)}`\n\n```text\n{cmd.get_help(ctx)}\n```\n")
        if isinstance(cmd, click.Group):
            for name in sorted(cmd.commands):
                walk(cmd.commands[name], [*path, name])

    walk(cli, ["pxehook"])
    return "\n".join(out)


BLOCKS = {
    "docs/architectures.md": ("arch-table", lambda: markdown_table(list(arch.TABLE))),
    "docs/configuration.md": ("settings", docs_table),
    "docs/cli.md": ("cli", cli_reference),
}


#: Files generated whole: path -> what writes them.
FILES = {"docs/pxehook.1": lambda: manual(cli)}


def replace_block(text: str, name: str, body: str) -> str:
    pattern = re.compile(
        rf"(<!-- BEGIN GENERATED: {name} -->\n).*?(<!-- END GENERATED: {name} -->)", re.S
    )
    if not pattern.search(text):
        raise SystemExit(f"marker for {name} missing")
    return pattern.sub(lambda m: m.group(1) + body + m.group(2), text)


def main(check: bool) -> int:
    stale = []
    for rel, (name, make) in BLOCKS.items():
        path = ROOT / rel
        old = path.read_text()
        new = replace_block(old, name, make())
        if new != old:
            stale.append(rel)
            if not check:
                path.write_text(new)
    for rel, make_file in FILES.items():
        path = ROOT / rel
        new = make_file()
        if not path.exists() or path.read_text() != new:
            stale.append(rel)
            if not check:
                path.write_text(new)
    if check and stale:
        print(
            "stale generated docs: "
            + ", ".join(stale)
            + " (run .venv/bin/python scripts/gen_docs.py)",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main("--check" in sys.argv))
