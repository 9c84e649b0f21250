"""One setting declared as data: name, type check, default, kind and the help line."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

ENV_PREFIX = "PXEHOOK_"


@dataclass(frozen=True)
class Setting:
    """One setting: its name, type check, default and the line the docs print."""

    name: str
    parse: Callable[[Any], Any]
    default: Any
    help: str
    kind: str

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.name.upper()


def declare(name: str, parse: Callable[[Any], Any], default: Any, kind: str, help: str) -> Setting:
    return Setting(name=name, parse=parse, default=default, help=help, kind=kind)
