"""streams.malloc_arenas: a worker's threads share at most two glibc malloc arenas.

A child process starts six threads that each hold malloc'd (not mmap'd) blocks at the same
time and counts glibc's thread arenas in /proc/self/maps (64 MiB-aligned anonymous
read-write mappings): one per thread by default, one besides the main heap when capped.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from tests.support import REPO

CHILD = textwrap.dedent("""
    import sys, threading
    if sys.argv[1] == "cap":
        from streams.malloc_arenas import cap_malloc_arenas
        assert cap_malloc_arenas()
    threads, ready, done = 6, threading.Barrier(7), threading.Event()
    def work():
        keep = [bytearray(64 * 1024) for _ in range(20)]  # below glibc's mmap threshold
        ready.wait()
        done.wait()
    ts = [threading.Thread(target=work) for _ in range(threads)]
    for t in ts:
        t.start()
    ready.wait()
    arenas = 0
    for line in open("/proc/self/maps"):
        parts = line.split()
        start = int(parts[0].split("-")[0], 16)
        if len(parts) == 5 and parts[1] == "rw-p" and start % (64 << 20) == 0:
            arenas += 1
    print(arenas)
    done.set()
""")

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux")
                                or os.confstr("CS_GNU_LIBC_VERSION") is None,
                                reason="glibc on Linux only")


def _arenas(mode: str, **env: str) -> int:
    clean = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    done = subprocess.run([sys.executable, "-c", CHILD, mode], cwd=REPO, text=True,
                          capture_output=True, env={**clean, **env}, timeout=60)
    assert done.returncode == 0, done.stderr
    return int(done.stdout.split()[-1])


def test_uncapped_threads_get_an_arena_each() -> None:
    # The condition the cap is for: without it the six threads use about six arenas.
    assert _arenas("plain") >= 4


def test_capped_threads_share_one_arena_besides_the_main_heap() -> None:
    assert _arenas("cap") <= 1


def test_the_worker_command_caps_before_it_runs_the_worker(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import streams.kafka.worker
    import streams.malloc_arenas
    from streams.cli.main import main

    calls: list[str] = []

    def cap() -> bool:
        calls.append("cap")
        return True

    def run(*args: object, **kwargs: object) -> int:
        calls.append("run")  # instead of starting Faust
        return 0

    monkeypatch.setattr(streams.malloc_arenas, "cap_malloc_arenas", cap)
    monkeypatch.setattr(streams.kafka.worker, "run_worker", run)
    monkeypatch.setenv("HARMWATCH_BROKER", "127.0.0.1:9")
    assert main(["worker", "--no-threats"]) == 0
    assert calls == ["cap", "run"]


def test_an_explicit_environment_setting_wins() -> None:
    from streams.malloc_arenas import cap_malloc_arenas

    old = os.environ.get("MALLOC_ARENA_MAX")
    os.environ["MALLOC_ARENA_MAX"] = "4"
    try:
        assert cap_malloc_arenas() is False
    finally:
        if old is None:
            del os.environ["MALLOC_ARENA_MAX"]
        else:
            os.environ["MALLOC_ARENA_MAX"] = old
