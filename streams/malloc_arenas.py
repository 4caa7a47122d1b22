"""Cap glibc's malloc arenas in a long-running, multi-threaded worker.

glibc gives each thread that allocates concurrently its own 64 MiB arena (up to 8 per
core) and returns little of a fragmented arena to the system. A ``harmwatch worker`` has
Faust's consumer thread beside the event loop, and buffers of every size come and go
(fetch responses, snapshots, dedupe-id generations): measured side by side under the same
load (docs/chaos.md "Load held"), a worker's RSS grew 474 -> 582 MiB over a 10-minute hold
with the default and stayed at 403-419 MiB with two arenas, at the same throughput.
Python's own small-object allocator is not affected; this is the ``MALLOC_ARENA_MAX=2``
that many Python services set in their environment, applied by the process itself so that
it holds however the worker is started. An explicit ``MALLOC_ARENA_MAX`` wins.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

M_ARENA_MAX = -8  # glibc's malloc.h
DEFAULT_ARENAS = 2


def cap_malloc_arenas(arenas: int = DEFAULT_ARENAS) -> bool:
    """Limit glibc to ``arenas`` malloc arenas from now on (call it before threads start);
    False where it does not apply (not glibc, or ``MALLOC_ARENA_MAX`` is set)."""
    if os.environ.get("MALLOC_ARENA_MAX"):
        return False
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError):  # musl and others have no mallopt
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_ARENA_MAX, arenas))
