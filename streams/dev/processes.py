"""Local processes and ports for the development services: free ports, pid checks, logs."""

from __future__ import annotations

import contextlib
import os
import socket
from pathlib import Path

HOST = "127.0.0.1"


def free_port(host: str = HOST) -> int:
    """An ephemeral TCP port free right now (for tests that must not collide)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_in_use(port: int, host: str = HOST) -> bool:
    """True when something already listens on ``host:port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def pid_alive(pid: int) -> bool:
    """True for a live, non-zombie process (a zombie has exited, just not been reaped)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    with contextlib.suppress(OSError):
        state = stat.read_text().rsplit(")", 1)[1].split()[0]
        return state not in ("Z", "X")
    return True


def cmdline(pid: int) -> str | None:
    """Command line of ``pid``, or None where /proc is not available."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return None


def log_tail(path: Path, lines: int = 40) -> str:
    """The log's first ERROR/FATAL line (usually the cause) and its last ``lines`` lines.

    A failed start often ends in a long stack trace whose head is cut off by the tail.
    """
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    last = text[-lines:]
    first_error = next((ln for ln in text if " ERROR " in ln or " FATAL " in ln), None)
    if first_error is not None and first_error not in last:
        return f"first error: {first_error}\n...\n" + "\n".join(last)
    return "\n".join(last)

