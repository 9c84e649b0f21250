"""Showing untrusted text (DHCP hostnames, vendor classes) safely on a terminal or in logs."""

from __future__ import annotations

_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\"}


def printable(value: object, limit: int = 256) -> str:
    """Escape control characters, DEL, lone surrogates and invalid bytes; cut at ``limit``."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="backslashreplace")
    text = "" if value is None else str(value)
    if len(text) <= limit and text.isascii() and text.isprintable() and "\\" not in text:
        return text  # nothing to escape (the usual case: names, MACs, labels)
    out = []
    for ch in text[:limit]:
        code = ord(ch)
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif code < 0x20 or code == 0x7F or 0x80 <= code < 0xA0 or 0xD800 <= code < 0xE000:
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        elif code in (0x2028, 0x2029, 0x202E, 0x200E, 0x200F) or 0x2066 <= code <= 0x2069:
            out.append(f"\\u{code:04x}")  # line breaks and bidi overrides
        else:
            out.append(ch)
    if len(text) > limit:
        out.append("…")
    return "".join(out)


def clean_field(value: str | bytes | None, limit: int = 255) -> str:
    """Make a DHCP field storable: valid UTF-8 (invalid bytes escaped), no NUL, bounded."""
    if value is None:
        return ""
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="backslashreplace")
    value = value.encode("utf-8", errors="backslashreplace").decode("utf-8")
    return value.replace("\x00", "\\x00")[:limit]
