"""Per-format escaping: nothing a client sent or DHCP recorded can add a line or a command.

Two layers. First, untrusted identity fields are reduced before they reach any template
(:func:`safe_hostname`, :func:`safe_token`). Second, every value a boot template prints goes
through the filter of its format, registered as Jinja filters by :func:`register`:

* iPXE (``ipxe_word``, ``ipxe_line``): a script line is split on whitespace, ``${…}`` is
  expanded anywhere and ``||``/``&&`` are command separators. No quoting is relied upon:
  line breaks and control characters become spaces, ``$`` becomes ``_``, a word has no
  whitespace, and a line never holds a bare ``||``/``&&`` token.
* GRUB (``grub_word``, ``grub_words``, ``grub_url``): shell-like; every word is emitted in
  single quotes (``'`` written as ``'\\''``), so ``;``, ``$``, ``#`` and newlines are inert;
  the one expansion a URL may carry is pxehook's own ``${pxehook_files}``, set by the
  template, never by a value.
* PXELINUX/U-Boot (``pxe_line``): one directive per line, U-Boot expands ``${…}``: line
  breaks and control characters become spaces, ``$`` becomes ``_``.
* ``comment``: text for a ``#`` comment line: printable, one line, bounded.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from pxehook.textsafe import printable

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_WS = re.compile(r"\s+")
_HOSTNAME_BAD = re.compile(r"[^A-Za-z0-9.-]")
_TOKEN_BAD = re.compile(r"[^A-Za-z0-9._:-]")
#: The GRUB variable a boot config sets to each source of pxehook's files in turn.
GRUB_FILES_VAR = "pxehook_files"


def _flat(value: Any) -> str:
    """One line: control characters (and Unicode line separators) become spaces."""
    return _CONTROL.sub(" ", "" if value is None else str(value))


def safe_hostname(value: Any, fallback: str) -> str:
    """A DNS-ish host name (letters, digits, dot, dash; 63 chars) or ``fallback``."""
    text = _HOSTNAME_BAD.sub("-", str(value or "")).strip(".-")[:63].strip(".-")
    return text or fallback


def safe_token(value: Any, limit: int = 64) -> str:
    """Identifier-like text (UUID, serial, MAC): letters, digits, ``._:-`` only."""
    return _TOKEN_BAD.sub("", str(value or ""))[:limit]


def ipxe_word(value: Any) -> str:
    """One iPXE argument: no whitespace, no ``$`` expansion, never empty."""
    text = _WS.sub("_", _flat(value)).replace("$", "_")
    return text or "_"


def ipxe_line(value: Any) -> str:
    """Several iPXE arguments (a kernel command line) on one line."""
    words = _WS.sub(" ", _flat(value)).replace("$", "_").split()
    return " ".join(w if w not in ("||", "&&") else "_" for w in words)


def grub_word(value: Any) -> str:
    """One GRUB word, single-quoted: nothing inside is special."""
    return "'" + _flat(value).replace("'", "'\\''") + "'"


def grub_words(value: Any) -> str:
    """A command line as separately quoted GRUB words."""
    return " ".join(grub_word(w) for w in _flat(value).split())


def grub_url(value: Any, files_url: str = "") -> str:
    """``http://h:p/path`` as GRUB's ``(http,h:p)/path``, quoted; other values quoted as is.

    A URL under ``files_url`` (pxehook's own files) becomes ``"${pxehook_files}"'/rest'``:
    the boot config sets ``pxehook_files`` to each place those files are served in turn
    (``render.grub_file_sources``: HTTP, then pxehook's TFTP server)."""
    text = _flat(value).strip()
    base = _flat(files_url).strip().rstrip("/")
    if base and text.startswith(base + "/"):
        return f'"${{{GRUB_FILES_VAR}}}"' + grub_word(text[len(base) :])
    parts = urlsplit(text)
    if parts.scheme in ("http", "tftp") and parts.netloc:
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        return f"({parts.scheme},{grub_word(parts.netloc)[1:-1]}){grub_word(path)}"
    return grub_word(text)


def pxe_line(value: Any) -> str:
    """Text for one PXELINUX/U-Boot directive: one line, no ``${}`` expansion."""
    return _WS.sub(" ", _flat(value)).replace("$", "_").strip()


def comment(value: Any) -> str:
    """Text for a comment line: printable, one line, at most 120 characters, no ``$``."""
    return printable(value, limit=120).replace("$", "_")


FILTERS = {
    "ipxe_word": ipxe_word,
    "ipxe_line": ipxe_line,
    "grub_word": grub_word,
    "grub_words": grub_words,
    "grub_url": grub_url,
    "pxe_line": pxe_line,
    "comment": comment,
}


def register(env: Any) -> None:
    """Add the escape filters to a Jinja environment (idempotent)."""
    env.filters.update(FILTERS)
