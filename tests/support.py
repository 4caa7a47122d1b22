"""What every test folder needs once: the checkout's paths, free ports, polling, the CLI.

Fixtures and domain helpers stay near the tests that use them (tests/helpers.py for the
engine); this module has no harmwatch imports, so any test can use it.
"""

from __future__ import annotations

import os
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Final, TypeVar

T = TypeVar("T")

REPO: Final = Path(__file__).resolve().parent.parent
# The shared contract and data sit beside the clone (as CI lays them out); override with
# HARMWATCH_SHARED when they live elsewhere.
SHARED: Final = Path(os.environ.get("HARMWATCH_SHARED", REPO.parent / "shared"))
# The CLI as a subprocess, from this interpreter and checkout (no installed script needed).
HARMWATCH: Final = (sys.executable, "-m", "streams.cli")
LOOPBACK: Final = "127.0.0.1"


def free_port(host: str = LOOPBACK) -> int:
    """An ephemeral TCP port free right now (the kernel picks it, so tests do not collide)."""
    return free_ports(1, host)[0]


def free_ports(count: int, host: str = LOOPBACK) -> list[int]:
    """``count`` distinct free ports: every socket stays bound until all are picked."""
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind((host, 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def wait_until(predicate: Callable[[], T], timeout: float, what: str, *,
               interval: float = 0.2,
               tolerate: tuple[type[BaseException], ...] = (OSError,)) -> T:
    """Call ``predicate`` until it returns something truthy and return that.

    An exception of a ``tolerate`` type (by default ``OSError``: a server not listening
    yet) counts as "not yet". After ``timeout`` seconds this fails naming ``what`` and the
    last result or error, so a hung test says what it was waiting for.
    """
    deadline = time.monotonic() + timeout
    last = ""
    while True:
        try:
            result = predicate()
        except tolerate as exc:
            last = f"last error: {type(exc).__name__}: {exc}"
        else:
            if result:
                return result
            last = f"last result: {result!r}"
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what} ({last})")
        time.sleep(interval)
