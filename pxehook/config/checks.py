"""Value checks for settings: each turns a raw value (YAML, environment text, a flag) into
the typed value or raises ValueError saying what was expected ("a whole number above 0")."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from typing import Any


def string(value: Any) -> str:
    """Any scalar as text; None is ""."""
    if isinstance(value, (dict, list)):
        raise ValueError("a string")
    return "" if value is None else str(value)


def integer(value: Any) -> int:
    """A whole number (not a bool)."""
    if isinstance(value, bool):
        raise ValueError("a whole number")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ValueError("a whole number") from None


def positive_int(value: Any) -> int:
    """A whole number above 0."""
    number = integer(value)
    if number <= 0:
        raise ValueError("a whole number above 0")
    return number


def non_negative_int(value: Any) -> int:
    """A whole number, 0 or more."""
    number = integer(value)
    if number < 0:
        raise ValueError("a whole number, 0 or more")
    return number


def port(value: Any) -> int:
    """A TCP/UDP port number, 1-65535."""
    try:
        number = integer(value)
    except ValueError:
        raise ValueError("a port number 1-65535") from None
    if not 0 < number < 65536:
        raise ValueError("a port number 1-65535")
    return number


def boolean(value: Any) -> bool:
    """A bool, or its usual spellings (yes/no, on/off, 1/0, "" is false)."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ValueError("true or false")


def ipv4_or_empty(value: Any) -> str:
    """An IPv4 address, or "" for none."""
    text = string(value).strip()
    if text:
        try:
            ipaddress.IPv4Address(text)
        except ValueError:
            raise ValueError("an IPv4 address such as 192.0.2.10") from None
    return text


def choice(*choices: str) -> Callable[[Any], str]:
    """A check that accepts exactly one of ``choices``."""

    def check(value: Any) -> str:
        text = string(value).strip()
        if text not in choices:
            raise ValueError("one of " + ", ".join(choices))
        return text

    return check


def string_list(value: Any) -> list[str]:
    """A YAML list of strings, or comma-separated text (the environment)."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    if isinstance(value, list) and all(isinstance(v, (str, int)) for v in value):
        return [str(v) for v in value]
    raise ValueError("a list of strings (YAML list, or comma-separated in the environment)")


def cidr_list(value: Any) -> list[str]:
    """A list of CIDR subnets (``192.0.2.0/24``)."""
    items = string_list(value)
    for item in items:
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise ValueError(f"a list of CIDR subnets (bad: {item!r})") from None
    return items


_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}")


def name_or_empty(value: Any) -> str:
    """A short name (letters, digits, ``.``, ``_``, ``-``; 63 at most), or empty."""
    text = string(value).strip()
    if text and not _NAME.fullmatch(text):
        raise ValueError("a name of letters, digits, '.', '_' and '-' (63 at most), or empty")
    return text
