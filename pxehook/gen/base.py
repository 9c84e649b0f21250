"""The shape every daemon generator has, and the helpers they share."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from pxehook.daemons import Daemon
from pxehook.errors import ConfigError, DaemonRejected, PxehookError
from pxehook.gen import needs
from pxehook.gen.layout import SiteLayout
from pxehook.templating import render

#: Where the daemons live on Debian even when /usr/sbin is not on PATH.
_SBIN = ("/usr/sbin", "/sbin", "/usr/local/sbin")


def find_binary(name: str) -> str | None:
    """Absolute path of a daemon binary, or None when it is not installed."""
    found = shutil.which(name)
    if found:
        return found
    for folder in _SBIN:
        path = shutil.which(name, path=folder)
        if path:
            return path
    return None


def run_reload(argv: list[str], *, timeout: float = 60) -> str:
    """Run a reload/restart command; a failure is a PxehookError with its output."""
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise PxehookError(f"{' '.join(argv)} failed: {exc}") from None
    if result.returncode != 0:
        raise PxehookError(
            f"{' '.join(argv)} failed (exit {result.returncode}): "
            f"{(result.stderr or result.stdout).strip()}"
        )
    return " ".join(argv)


def registry_reload(daemon: Daemon) -> str:
    """Run the daemon's reload command from the registry."""
    if not daemon.reload:
        raise PxehookError(f"{daemon.display} has no reload command: restart it yourself")
    return run_reload(list(daemon.reload))


def _no_warnings(*_args: object) -> list[str]:
    return []


@dataclass(frozen=True)
class Generator:
    """One DHCP daemon's generator: its registry record plus what only rendering needs.

    ``suffix`` names the templates (``templates/<name>/<dhcp_mode>.<suffix>.j2``, which
    see the ``SiteLayout`` as ``site``); the optional steps default to nothing:
    ``precheck`` refuses a layout before rendering, ``postprocess`` checks or rewrites the
    text, ``layout_lint``/``text_lint`` warn about daemon-specific traps (see gen/lint.py),
    ``reload`` overrides the registry's reload command; ``needs`` names the settings each
    DHCP mode cannot do without.
    """

    daemon: Daemon
    suffix: str
    # (layout, written file) -> what was done
    reload_with: Callable[[SiteLayout, str], str] | None = None
    postprocess: Callable[[str], str] = lambda text: text
    precheck: Callable[[SiteLayout, str], None] = lambda layout, dhcp_mode: None
    # (layout, dhcp_mode) -> warnings
    layout_lint: Callable[[SiteLayout, str], list[str]] = _no_warnings
    text_lint: Callable[[str], list[str]] = _no_warnings  # (config text) -> warnings
    # DHCP mode -> the settings it needs (names in gen/needs.py's SETTINGS)
    needs: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.daemon.name

    @property
    def binary(self) -> str:
        return self.daemon.binary

    @property
    def dhcp_modes(self) -> tuple[str, ...]:
        return self.daemon.dhcp_modes

    def render(self, layout: SiteLayout, dhcp_mode: str, *, site_dir: str = "") -> str:
        if dhcp_mode not in self.dhcp_modes:
            choices = ", ".join(self.dhcp_modes)
            raise PxehookError(f"{self.name} has no mode {dhcp_mode!r}; choose one of {choices}")
        missing = self.missing(layout, dhcp_mode)
        if missing:
            raise ConfigError("; ".join(missing))
        self.precheck(layout, dhcp_mode)
        text = render(
            f"{self.name}/{dhcp_mode}.{self.suffix}.j2", {"site": layout}, site_dir=site_dir
        )
        return self.postprocess(text)

    def missing(self, layout: SiteLayout, dhcp_mode: str) -> list[str]:
        """One line per setting ``dhcp_mode`` needs and ``layout`` lacks."""
        return needs.problems(self.name, dhcp_mode, self.needs.get(dhcp_mode, ()), layout)

    def reload(self, layout: SiteLayout, path: str) -> str:
        """Make the daemon re-read ``path``; returns what was done."""
        if self.reload_with is not None:
            return self.reload_with(layout, path)
        return registry_reload(self.daemon)

    def check(self, path: str, *, timeout: float = 30) -> str | None:
        """Run the daemon's own syntax check on ``path``; None when it is not installed.

        Raises DaemonRejected with the daemon's complaint when it refuses the file.
        """
        binary = find_binary(self.binary)
        if binary is None:
            return None
        argv = self.daemon.check_argv(binary, path)
        try:
            result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise DaemonRejected(f"{' '.join(argv)} did not finish in {timeout:.0f}s") from None
        output = (result.stdout + result.stderr).strip()
        if result.returncode != 0:
            lines = [line.strip() for line in output.splitlines() if line.strip()]
            errors = [line for line in lines if "ERROR" in line] or lines
            raise DaemonRejected(
                f"{self.binary} rejected the generated file (exit {result.returncode}): "
                + " | ".join(errors)[-2000:]
            )
        return output
