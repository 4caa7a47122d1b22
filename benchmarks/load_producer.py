"""The load producer of ``benchmarks/load_held.py``: cheap enough per event that the
producer is not what saturates first.

Two stages in one process:

1. **generate** (before the timed phase, untimed): the simulator's traffic for this
   producer's whole schedule (its own seed, no duplicates), each line already routed
   (topic from its type, partition from the event id hashed with murmur2 as kafka-python's
   default partitioner does for ``harmwatch produce``) and written to a frame file
   (``topic index, partition, key length, value length, key, value``). It costs about
   10 us per event, once; then the file ``<marks>.ready`` says so.
2. **send** (when ``<marks>.go`` appears): the frames, read from the page cache with
   ``mmap``, appended to aiokafka record batches (the record format is built in C) per
   partition; a full batch is submitted, and every ``LINGER_S`` each partition's batch
   whose predecessor has been delivered (``acks=all``). Paced to the schedule in steps of
   ``MARK_EVERY`` messages, and message i's hand-over time is written then, as
   ``(monotonic time, i, rate)``: the latency of the benchmark is measured from there, so
   it includes the linger and the wait for the previous batch, as kafka-python's would.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import mmap
import struct
import time
from pathlib import Path

TOPICS = ("decisions", "appeals", "reports")
MARKERS = ((b'"type":"decision"', 0), (b'"type":"appeal"', 1), (b'"type":"report"', 2))
FRAME = struct.Struct("<BBBH")  # topic index, partition, key length, value length
MARK_EVERY = 500
LINGER_S = 0.02
BATCH_BYTES = 256 * 1024


def generate(path: Path, seed: int, scale: float, n: int, partitions: int,
             start: dt.datetime) -> int:
    """Write ``n`` routed lines of the simulator to ``path``; the number written."""
    from aiokafka.partitioner import murmur2

    from streams.sources.simulator import Simulator

    sim = Simulator(start=start, seed=seed, duplicate_rate=0.0, scale=scale)
    pack = FRAME.pack
    written = 0
    with path.open("wb", buffering=1 << 20) as out:
        for _, line in sim.lines(10**9):
            if written >= n:
                break
            topic = next(k for marker, k in MARKERS if marker in line)
            key = line.split(b'"event_id":"', 1)[1].split(b'"', 1)[0]
            part = (murmur2(key) & 0x7FFFFFFF) % partitions
            out.write(pack(topic, part, len(key), len(line)) + key + line)
            written += 1
    return written


async def send(broker: str, prefix: str, schedule: list[tuple[float, float]], marks: Path,
               frames: Path) -> None:
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=broker, acks="all", linger_ms=20,
                                max_batch_size=BATCH_BYTES, client_id="load-producer")
    await producer.start()
    topics = [prefix + t for t in TOPICS]
    builders: dict[tuple[int, int], object] = {}
    # The newest batch submitted per partition: a partition's next batch waits (and keeps
    # filling) until that one is delivered, as kafka-python's accumulator does; submitting
    # every linger regardless queues ever more small batches behind one another and the
    # delay grows without bound under load.
    inflight: dict[tuple[int, int], asyncio.Future[object]] = {}
    pending: list[asyncio.Future[object]] = []
    # Seconds from a batch's first message handed over to the broker's ack (acks=all):
    # the share of the end-to-end latency spent before any worker could read it.
    opened: dict[tuple[int, int], float] = {}
    acked: list[float] = []

    def new_batch(tp: tuple[int, int]) -> object:
        opened[tp] = time.monotonic()
        builders[tp] = producer.create_batch()
        return builders[tp]

    async def submit(tp: tuple[int, int]) -> None:
        batch = builders.pop(tp)
        first = opened.pop(tp)
        fut = await producer.send_batch(batch, topics[tp[0]], partition=tp[1])
        fut.add_done_callback(lambda _f: acked.append(time.monotonic() - first))
        inflight[tp] = fut
        pending.append(fut)

    async def submit_all() -> None:
        for tp in list(builders):
            fut = inflight.get(tp)
            if fut is None or fut.done():
                await submit(tp)
        for f in pending:
            if f.done():
                f.result()  # a failed delivery fails the benchmark, loudly
        pending[:] = [f for f in pending if not f.done()]

    with frames.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm, \
            marks.open("w") as out:
        size = len(mm)
        pos = 0
        i = 0
        unpack = FRAME.unpack_from
        head = FRAME.size
        last_submit = time.monotonic()
        for rate, seconds in schedule:
            began = time.monotonic()
            sent_here = 0
            while pos < size:
                now = time.monotonic()
                if now - began >= seconds:
                    break
                for _ in range(MARK_EVERY):
                    if pos >= size:
                        break
                    topic, part, klen, vlen = unpack(mm, pos)
                    pos += head
                    key = mm[pos:pos + klen]
                    pos += klen
                    value = mm[pos:pos + vlen]
                    pos += vlen
                    tp = (topic, part)
                    batch = builders.get(tp)
                    if batch is None:
                        batch = new_batch(tp)
                    if batch.append(key=key, value=value, timestamp=None) is None:  # type: ignore[attr-defined]
                        await submit(tp)
                        batch = new_batch(tp)
                        batch.append(key=key, value=value, timestamp=None)  # type: ignore[attr-defined]
                    i += 1
                    sent_here += 1
                now = time.monotonic()
                out.write(f"{now:.4f} {i} {rate:.0f}\n")
                if now - last_submit >= LINGER_S:
                    await submit_all()
                    last_submit = now
                ahead = sent_here / rate - (now - began)
                await asyncio.sleep(max(0.0, min(ahead, LINGER_S)))
                while ahead > LINGER_S:  # keep the linger while waiting for the schedule
                    await submit_all()
                    last_submit = time.monotonic()
                    ahead = sent_here / rate - (time.monotonic() - began)
                    await asyncio.sleep(max(0.0, min(ahead, LINGER_S)))
            out.flush()
        for tp in list(builders):
            await submit(tp)
        await asyncio.gather(*pending)
        await producer.stop()
        out.write(f"{time.monotonic():.4f} {i} end\n")
        if pos >= size:
            out.write(f"{time.monotonic():.4f} {i} exhausted\n")
    marks.with_suffix(".acks").write_text("".join(f"{a:.4f}\n" for a in acked))


def run(broker: str, prefix: str, schedule: list[tuple[float, float]], marks: Path,
        scale: float, seed: int, partitions: int, start: float) -> None:
    """Generate (event time from ``start``, epoch seconds), say ready, wait for go, send."""
    frames = marks.with_suffix(".frames")
    n = int(sum(rate * seconds for rate, seconds in schedule) * 1.05) + MARK_EVERY
    generate(frames, seed, scale, n, partitions, dt.datetime.fromtimestamp(start, dt.UTC))
    marks.with_suffix(".ready").write_text("ready\n")
    go = marks.with_suffix(".go")
    while not go.exists():
        time.sleep(0.05)
    try:
        asyncio.run(send(broker, prefix, schedule, marks, frames))
    finally:
        frames.unlink(missing_ok=True)
