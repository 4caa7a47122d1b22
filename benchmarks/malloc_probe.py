"""``harmwatch worker`` with a malloc probe: every ``HW_PROBE_EVERY_S`` seconds (default
30) one line of JSON per sample is appended to ``$HW_PROBE_DIR/<pid>.jsonl``:

- ``arenas``: glibc's ``malloc_info`` per arena (nr 0 is the main, brk arena; the main
  thread allocates there, every other thread in the non-main ones): ``system`` bytes the
  arena holds from the kernel, ``free`` bytes of free chunks in it (fast + rest), so
  ``system - free`` is live; plus ``mmap``: chunks mapped on their own (count, bytes);
- ``smaps``: resident MiB by kind of mapping: ``brk`` heap, ``arena_heaps`` (anonymous and
  64 MiB-aligned: glibc's non-main arena heaps), ``anon_other`` (pymalloc's 1 MiB arenas,
  large chunks mapped on their own, thread stacks), ``files``;
- ``blocks``: ``sys.getallocatedblocks()`` (live pymalloc blocks: Python objects);
- ``dedupe_ids``: ``harmwatch_dedupe_ids`` from the worker's own ``/metrics``;
- ``threads``: CPU seconds per thread (name from ``threading`` or the kernel's comm).

``HW_PROBE_TRIM_S=N``: also call ``malloc_trim(0)`` every N s (RSS before and after, and
how long it took, in the line); a diagnosis and the candidate fix measured side by side
(``load_held.py --probe DIR --worker2-env HW_PROBE_TRIM_S=30``). Opt-in, benchmarks only:
the product does not load this.

``HW_PROBE_CHANGELOG_BUFFER=N``: build the worker's tables with Faust's changelog buffers
at N records (1000 is Faust's default, what the worker had before
:mod:`streams.kafka.faust_topics` set them): the old behaviour beside the new in one run.

    HW_PROBE_DIR=/tmp/probe .venv/bin/python benchmarks/malloc_probe.py worker [flags]
"""

from __future__ import annotations

import ctypes
import json
import os
import re
import sys
import tempfile
import threading
import time
import urllib.request
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

_LIBC = ctypes.CDLL("libc.so.6")
_LIBC.fopen.restype = ctypes.c_void_p
_LIBC.fopen.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
_LIBC.fclose.argtypes = [ctypes.c_void_p]
_LIBC.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
_LIBC.malloc_trim.argtypes = [ctypes.c_size_t]
HEAP_ALIGN = 64 * 2**20  # glibc's HEAP_MAX_SIZE on 64-bit
MIB = 2**20
_HEAD = re.compile(r"^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$")


def malloc_info() -> dict[str, Any]:
    """glibc's malloc_info, per arena: system, free (fast + rest) bytes; mmapped chunks."""
    fd, path = tempfile.mkstemp(prefix="malloc-info-")
    os.close(fd)
    try:
        fp = _LIBC.fopen(path.encode(), b"w")
        _LIBC.malloc_info(0, fp)
        _LIBC.fclose(fp)
        root = ET.fromstring(Path(path).read_text())
    finally:
        os.unlink(path)
    arenas = []
    for heap in root.findall("heap"):
        free = sum(int(t.get("size", 0)) for t in heap.findall("total")
                   if t.get("type") in ("fast", "rest"))
        system = next(int(s.get("size", 0)) for s in heap.findall("system")
                      if s.get("type") == "current")
        arenas.append({"nr": int(heap.get("nr", -1)), "system": system, "free": free})
    mmap = next((t for t in root.findall("total") if t.get("type") == "mmap"), None)
    return {"arenas": arenas,
            "mmap": {"count": int(mmap.get("count", 0)) if mmap is not None else 0,
                     "bytes": int(mmap.get("size", 0)) if mmap is not None else 0}}


def smaps() -> dict[str, float]:
    """Resident MiB of this process by kind of mapping."""
    out = {"brk": 0.0, "arena_heaps": 0.0, "anon_other": 0.0, "files": 0.0}
    kind = "files"
    for line in Path("/proc/self/smaps").read_text().splitlines():
        head = _HEAD.match(line)
        if head:
            start, name = int(head.group(1), 16), head.group(4).strip()
            if name == "[heap]":
                kind = "brk"
            elif name == "" and start % HEAP_ALIGN == 0:
                kind = "arena_heaps"
            elif name == "" or name.startswith("["):
                kind = "anon_other"
            else:
                kind = "files"
        elif line.startswith("Rss:"):
            out[kind] += int(line.split()[1]) / 1024
    return {k: round(v, 1) for k, v in out.items()}


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def threads() -> dict[str, float]:
    names = {t.native_id: t.name for t in threading.enumerate()}
    tick = os.sysconf("SC_CLK_TCK")
    out: dict[str, float] = {}
    for task in Path("/proc/self/task").iterdir():
        try:
            stat = (task / "stat").read_text()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat.rsplit(")", 1)[1].split()
        tid = int(task.name)
        name = f"{names.get(tid, comm)}[{tid}]" + ("(main)" if tid == os.getpid() else "")
        out[name] = (int(fields[11]) + int(fields[12])) / tick
    return out


def dedupe_ids(port: str | None) -> float | None:
    if port is None:
        return None
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as resp:
            for line in resp.read().decode().splitlines():
                if line.startswith("harmwatch_dedupe_ids "):
                    return float(line.split()[1])
    except OSError:
        return None
    return None


def _probe(out: Path, every: float, trim_every: float, port: str | None) -> None:
    t0 = time.monotonic()
    next_trim = t0 + trim_every if trim_every > 0 else float("inf")
    while True:
        time.sleep(every - (time.monotonic() - t0) % every)
        line: dict[str, Any] = {"t": round(time.monotonic() - t0), "rss": round(rss_mib(), 1)}
        if time.monotonic() >= next_trim:
            began = time.monotonic()
            _LIBC.malloc_trim(0)  # ctypes lets go of the GIL: the worker runs on meanwhile
            line["trim"] = {"s": round(time.monotonic() - began, 4),
                            "rss_after": round(rss_mib(), 1)}
            next_trim += trim_every
        line.update(malloc_info())
        line["smaps"] = smaps()
        line["blocks"] = sys.getallocatedblocks()
        line["dedupe_ids"] = dedupe_ids(port)
        line["threads"] = threads()
        with out.open("a") as fh:
            fh.write(json.dumps(line) + "\n")


def main() -> int:
    out_dir = Path(os.environ.get("HW_PROBE_DIR", "."))
    out_dir.mkdir(parents=True, exist_ok=True)
    args = sys.argv[1:]
    port = args[args.index("--web-port") + 1] if "--web-port" in args else None
    from streams.malloc_arenas import cap_malloc_arenas

    cap_malloc_arenas()  # before the probe's thread takes an arena of its own
    buffer = os.environ.get("HW_PROBE_CHANGELOG_BUFFER")
    if buffer:
        from streams.kafka import faust_topics

        faust_topics.STANDBY_BUFFER = faust_topics.RECOVERY_BUFFER = int(buffer)
    threading.Thread(target=_probe, daemon=True, name="malloc-probe",
                     args=(out_dir / f"{os.getpid()}.jsonl",
                           float(os.environ.get("HW_PROBE_EVERY_S", "30")),
                           float(os.environ.get("HW_PROBE_TRIM_S", "0")), port)).start()
    from streams.cli.main import main as cli

    return cli(args)


if __name__ == "__main__":
    sys.exit(main())
