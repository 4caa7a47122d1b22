"""Helpers for the streaming integration tests: worker subprocesses, produce, compare."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar, cast

from tests import support
from tests.support import HARMWATCH, REPO, free_port

T = TypeVar("T")
WORKER = [*HARMWATCH, "worker"]
# Worker logs go to a file per worker in the test's tmp dir; info level explains a failure.
LOGLEVEL = os.environ.get("HARMWATCH_TEST_WORKER_LOGLEVEL", "info")


class MetricNotExposed(AssertionError):
    """A test asked for a metric name the exposition does not have (a typo, a counter
    without ``_total``, or a worker not serving yet)."""


def wait_until(check: Callable[[], T | Literal[False] | None], timeout: float, what: str,
               interval: float = 0.5) -> T:
    """:func:`tests.support.wait_until`, where a metric not exposed *yet* is a reason to
    keep polling and is reported on timeout: a misspelt name then fails the test instead
    of reading as 0."""
    return cast(T, support.wait_until(check, timeout, what, interval=interval,
                                      tolerate=(MetricNotExposed,)))


class Env:
    """One test's own topics and consumer group on the shared broker."""

    def __init__(self, broker: str, tmp: Path, partitions: int = 6) -> None:
        tag = uuid.uuid4().hex[:8]
        self.broker = broker
        self.tmp = tmp
        self.prefix = f"t{tag}."
        self.app_id = f"hw-{tag}"
        self.partitions = partitions
        self.env = {**os.environ, "HARMWATCH_BROKER": broker,
                    "HARMWATCH_TOPIC_PREFIX": self.prefix, "HARMWATCH_APP_ID": self.app_id,
                    "HARMWATCH_PARTITIONS": str(partitions), "PYTHONUNBUFFERED": "1"}
        self.env.pop("HARMWATCH_KAFKA_CONFIG", None)

    def topic(self, name: str) -> str:
        return self.prefix + name

    def run(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*HARMWATCH, *args], cwd=REPO, env=self.env, text=True,
                              capture_output=True, timeout=timeout)

    def produce(self, events: Path, *extra: str) -> subprocess.CompletedProcess[str]:
        done = self.run("produce", "--events", str(events), *extra)
        assert done.returncode == 0, done.stderr
        return done

    def produce_async(self, events: Path, *extra: str) -> subprocess.Popen[str]:
        return subprocess.Popen([*HARMWATCH, "produce", "--events", str(events), *extra],
                                cwd=REPO, env=self.env, text=True, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)


class Worker:
    """A worker subprocess; ``command`` replaces ``harmwatch worker`` (the benchmark's
    Faust-agent baselines take the same flags)."""

    def __init__(self, env: Env, name: str, *extra: str,
                 command: Sequence[str] = WORKER) -> None:
        self.command = list(command)
        self.env = env
        self.name = name
        self.port = free_port()
        self.signals = env.tmp / f"{name}-signals.jsonl"
        self.episodes = env.tmp / f"{name}-episodes.jsonl"
        self.episodes_log = env.tmp / f"{name}-episodes-log.jsonl"
        self.audit_log = env.tmp / f"{name}-audit.jsonl"  # never the checkout's var/audit
        self.stderr_path = env.tmp / f"{name}.err"
        self.extra = extra
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Worker:
        err = self.stderr_path.open("ab")
        self.proc = subprocess.Popen(
            [*self.command, "--web-port", str(self.port), "--loglevel", LOGLEVEL,
             "--signals-out", str(self.signals), "--episodes-out", str(self.episodes),
             *self._worker_only(), *self.extra],
            cwd=REPO, env=self.env.env, stdout=err, stderr=err)
        err.close()
        return self

    def _worker_only(self) -> list[str]:
        """Flags the benchmark's Faust-agent baselines do not take."""
        if self.command != WORKER:
            return []
        return ["--audit-log", str(self.audit_log), "--episodes-log", str(self.episodes_log)]

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace") if self.stderr_path.exists() else ""

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        if self.alive():
            assert self.proc is not None
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self, timeout: float = 30) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=30)

    def metrics(self) -> str:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics",
                                        timeout=5) as resp:
                return str(resp.read().decode())
        except OSError:
            return ""

    def rows(self) -> list[dict[str, Any]]:
        return read_jsonl(self.signals)


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Complete lines only: a worker killed mid-write may leave half a line at the end."""
    if not path.exists():
        return []
    out = []
    for raw in path.read_bytes().split(b"\n"):
        if raw.strip():
            try:
                out.append(json.loads(raw))
            except ValueError:
                continue
    return out


def row_key(row: dict[str, Any]) -> tuple[Any, ...]:
    return (row["policy_area"], row["market"] or "", row["signal"], row["window_end"])


def dedupe_rows(rows: list[dict[str, Any]]) -> dict[tuple[Any, ...], dict[str, Any]]:
    """Rows by key; a row written twice (at-least-once after a crash) must be identical."""
    out: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        key = row_key(row)
        if key in out:
            assert out[key] == row, f"one window, two different rows: {out[key]} vs {row}"
        out[key] = row
    return out


_SAMPLE_SUFFIXES = {"histogram": ("_bucket", "_count", "_sum", "_created"),
                    "summary": ("", "_count", "_sum", "_created")}


def exposed_names(text: str) -> set[str]:
    """Every sample name the exposition has or declares: a family declared with no samples
    yet counts, under the names its samples would carry. A counter is sampled as
    ``x_total``, never as ``x``, whether its ``# TYPE`` line says ``x_total`` (the text
    format prometheus_client writes) or ``x`` (OpenMetrics)."""
    names: set[str] = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            parts = line.split()
            if len(parts) < 4:
                continue
            family, kind = parts[2], parts[3]
            if kind == "counter":
                names.add(family if family.endswith("_total") else family + "_total")
            else:
                names.update(family + suffix for suffix in _SAMPLE_SUFFIXES.get(kind, ("",)))
        elif line and not line.startswith("#"):
            names.add(line.split("{", 1)[0].split(" ", 1)[0])
    return names


def metric_sum(text: str, name: str, **labels: str) -> float:
    """Sum of the samples named ``name`` whose labels include ``labels``.

    Raises :class:`MetricNotExposed` when ``name`` is not in the exposition at all, so a
    check cannot pass on a name that is never exported. Samples of an exposed name that
    do not match ``labels`` add 0 (a label value not seen yet, e.g. no duplicates).
    """
    if name not in exposed_names(text):
        raise MetricNotExposed(f"metric {name!r} is not exposed"
                               + ("" if text else " (empty exposition)"))
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def simulate(env: Env, out: Path, duration: str = "50m", *extra: str) -> Path:
    # The shipped rules are judged against each area's last hour and stay quiet while less
    # than half of it is known: the incidents start once the baselines are warm.
    done = env.run("simulate", "--out", str(out), "--duration", duration, "--incidents", "2",
                   "--incidents-after", "32m", *extra)
    assert done.returncode == 0, done.stderr
    return out


def backtest(env: Env, events: Path) -> tuple[dict[tuple[Any, ...], dict[str, Any]],
                                              list[dict[str, Any]]]:
    signals = env.tmp / f"backtest-{events.stem}.jsonl"
    done = env.run("backtest", "--events", str(events), "--format", "jsonl",
                   "--signals-out", str(signals))
    assert done.returncode == 0, done.stderr
    episodes = [json.loads(x) for x in done.stdout.splitlines() if x.strip()]
    rows = read_jsonl(signals)
    keyed = dedupe_rows(rows)
    assert len(keyed) == len(rows)
    return keyed, episodes


def sorted_episodes(episodes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(episodes, key=lambda e: (e["started_at"], e["policy_area"],
                                           e["market"] or "", e["signal"], e["severity"]))


def stop_all(workers: Iterator[Worker] | list[Worker]) -> None:
    for w in workers:
        w.stop(timeout=20)
