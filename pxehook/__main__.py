"""``python -m pxehook`` runs the CLI."""

from pxehook.cli import main

main()
