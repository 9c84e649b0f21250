"""Build and install the DHCP hook: the C program (fast) or the Python fallback.

The C source ships inside the package (``pxehook/capture/pxehook-hook.c`` is a symlink to
``hooks/pxehook-hook.c``, packaged as data) so a pip-installed pxehook can compile it with
the system ``cc``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from pxehook.capture import hook_py
from pxehook.errors import ConfigError, PxehookError

SOURCE = Path(__file__).with_name("pxehook-hook.c")
PYTHON = "/usr/bin/python3"
CFLAGS = ("-O2", "-std=c99", "-Wall", "-Wextra")


def c_string(value: str) -> str:
    """``value`` as a C string literal (for -D); refuses characters that need care."""
    if any(ch in value for ch in '"\\\n\r\0') or not value.startswith("/"):
        raise ConfigError(f"spool path {value!r} must be absolute, without quotes or backslashes")
    return f'"{value}"'


def _atomic_install(src: Path, dest: Path, mode: int) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", dir=dest.parent)
    try:
        with os.fdopen(fd, "wb") as out, open(src, "rb") as inp:
            shutil.copyfileobj(inp, out)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


FSYNC_MODES = {"off": 0, "sync": 1, "async": 2}


def build_c(out: str | Path, spool: str, *, fsync: str = "async", cc: str | None = None) -> Path:
    """Compile the C hook into ``out`` with ``spool`` and ``fsync`` as compiled defaults."""
    compiler = cc or os.environ.get("CC") or "cc"
    if shutil.which(compiler) is None:
        raise PxehookError(
            f"C compiler {compiler!r} not found",
            hint="install gcc (or use 'pxehook hook install --python', slower)",
        )
    out = Path(out)
    with tempfile.TemporaryDirectory() as tmp:
        binary = Path(tmp) / "pxehook-hook"
        argv = [
            compiler,
            *CFLAGS,
            f"-DPXEHOOK_SPOOL={c_string(spool)}",
            f"-DPXEHOOK_FSYNC={FSYNC_MODES[fsync]}",
            "-o",
            str(binary),
            str(SOURCE),
        ]
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        if proc.returncode != 0:
            raise PxehookError(f"compiling the hook failed: {proc.stderr.strip()[:2000]}")
        _atomic_install(binary, out, 0o755)
    return out


def python_hook_text(spool: str, *, fsync: str = "async", python: str = PYTHON) -> str:
    """The Python fallback hook with its spool path and fsync default filled in."""
    source = Path(hook_py.__file__).read_text(encoding="utf-8")
    source = source.replace(f'SPOOL = "{hook_py.SPOOL}"', f"SPOOL = {spool!r}", 1)
    source = source.replace(f"FSYNC = {hook_py.FSYNC!r}", f"FSYNC = {fsync!r}", 1)
    return f"#!{python} -IS\n" + source  # one shebang argument: -I -S


def build_python(out: str | Path, spool: str, *, fsync: str = "async") -> Path:
    """Write the Python fallback hook to ``out`` (executable, absolute interpreter)."""
    c_string(spool)  # same rules as the C hook
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", delete=False, dir=out.parent, suffix=".tmp") as fh:
        fh.write(python_hook_text(spool, fsync=fsync))
    _atomic_install(Path(fh.name), out, 0o755)
    Path(fh.name).unlink(missing_ok=True)
    return out
