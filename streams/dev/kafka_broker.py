"""A real single-node Apache Kafka broker (KRaft) for development and tests.

The jars and Java come from :mod:`streams.dev.kafka_jars` (Maven, once); readiness is asked
with kafka-python (:func:`streams.kafka.broker_check.broker_answers`); the command line is
:mod:`streams.dev.kafka_cli`.

In Python::

    with LocalKafka(Path("var/kafka"), port=9092) as kafka:
        ...  # kafka.bootstrap == "127.0.0.1:9092"
"""

from __future__ import annotations

import base64
import contextlib
import os
import re
import signal
import subprocess
import time
import uuid
from pathlib import Path
from types import TracebackType

from streams.dev.kafka_jars import KAFKA_VERSION, LOG4J_CONFIG, ensure_classpath, java_executable
from streams.dev.processes import HOST, cmdline, free_port, log_tail, pid_alive, port_in_use
from streams.kafka.broker_check import broker_answers

__all__ = ["DEFAULT_PORT", "KAFKA_VERSION", "LocalKafka", "free_port", "read_properties"]

DEFAULT_PORT = 9092
PID_FILE = "kafka.pid"
PROPERTIES_FILE = "server.properties"
LOG_FILE = "broker.log"
LOG_DIRS = "kraft-logs"


def _new_cluster_id() -> str:
    """16 random bytes, base64url without padding, not starting with '-' (Kafka's rule)."""
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cid.startswith("-"):
            return cid


def read_properties(path: Path) -> dict[str, str]:
    """A ``key=value`` properties file as a dict (enough for our own server.properties)."""
    props: dict[str, str] = {}
    if path.is_file():
        for line in path.read_text().splitlines():
            line = line.strip()
            if line and not line.startswith(("#", "!")) and "=" in line:
                key, value = line.split("=", 1)
                props[key.strip()] = value.strip()
    return props


class LocalKafka:
    """One KRaft broker+controller on 127.0.0.1, its state all under ``data_dir``.

    The pid file lets another process (``down``/``status``) find the broker that an
    ``up`` left running in the background.
    """

    def __init__(
        self,
        data_dir: Path,
        port: int = DEFAULT_PORT,
        controller_port: int | None = None,
        heap: str = "512m",
    ) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.port = port
        self.heap = heap
        self.properties_path = self.data_dir / PROPERTIES_FILE
        self.pid_path = self.data_dir / PID_FILE
        self.log_path = self.data_dir / LOG_FILE
        self.log_dirs = self.data_dir / LOG_DIRS
        self.controller_port = controller_port or self._saved_controller_port()
        self._proc: subprocess.Popen[bytes] | None = None

    # -- properties

    @property
    def bootstrap(self) -> str:
        """``bootstrap_servers`` for clients: ``"127.0.0.1:PORT"``."""
        return f"{HOST}:{self.port}"

    def _saved_controller_port(self) -> int | None:
        """Controller port of an earlier start, kept so a restart looks the same."""
        voters = read_properties(self.properties_path).get("controller.quorum.voters", "")
        match = re.fullmatch(r"1@[^:]+:(\d+)", voters)
        return int(match.group(1)) if match else None

    def server_properties(self) -> dict[str, str]:
        """Broker settings: one node, replication factor 1, tuned for fast tests."""
        assert self.controller_port is not None
        one = "1"
        return {
            "process.roles": "broker,controller",
            "node.id": one,
            "controller.quorum.voters": f"1@{HOST}:{self.controller_port}",
            "listeners": f"PLAINTEXT://{HOST}:{self.port},CONTROLLER://{HOST}:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://{HOST}:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": str(self.log_dirs),
            "num.partitions": one,
            "default.replication.factor": one,
            "min.insync.replicas": one,
            "auto.create.topics.enable": "false",
            "offsets.topic.num.partitions": one,
            "offsets.topic.replication.factor": one,
            "transaction.state.log.num.partitions": one,
            "transaction.state.log.replication.factor": one,
            "transaction.state.log.min.isr": one,
            "share.coordinator.state.topic.replication.factor": one,
            "share.coordinator.state.topic.min.isr": one,
            "group.initial.rebalance.delay.ms": "0",
            # On a restart the controller refuses the broker's new registration
            # (DUPLICATE_BROKER_REGISTRATION) until the previous incarnation's session
            # expires, even after a clean shutdown: 9 s by default, 3 s here.
            "broker.session.timeout.ms": "3000",
            "broker.heartbeat.interval.ms": "500",
            # Small machine, small heap: fewer threads and a smaller compaction buffer
            # (the 128 MiB default would take a quarter of a 512m heap).
            "num.network.threads": "2",
            "num.io.threads": "4",
            "num.recovery.threads.per.data.dir": one,
            "log.cleaner.dedupe.buffer.size": str(16 * 1024 * 1024),
            "log.cleaner.threads": one,
        }

    def write_properties(self) -> None:
        """Write server.properties (always: ports may have changed since the last start)."""
        if self.controller_port is None:
            self.controller_port = free_port()
        lines = [f"# Written by streams/dev/kafka_broker.py for Kafka {KAFKA_VERSION}"]
        lines += [f"{k}={v}" for k, v in self.server_properties().items()]
        self.properties_path.write_text("\n".join(lines) + "\n")

    # -- state

    def pid(self) -> int | None:
        """Pid of our broker when it runs, else None (stale pid files are ignored)."""
        if self._proc is not None:
            return self._proc.pid if self._proc.poll() is None else None
        try:
            pid = int(self.pid_path.read_text().strip())
        except (OSError, ValueError):
            return None
        if not pid_alive(pid):
            return None
        command = cmdline(pid)
        if command is not None and (
            "kafka.Kafka" not in command or str(self.properties_path) not in command
        ):
            return None  # the pid was reused by an unrelated process
        return pid

    def is_running(self) -> bool:
        """True while the broker process is alive (it may still be starting)."""
        return self.pid() is not None

    def is_ready(self) -> bool:
        """True when the broker answers a Metadata request as a live broker."""
        return broker_answers(self.port)

    # -- lifecycle

    def _java_command(self, java: str, classpath: list[Path], main: str) -> list[str]:
        return [
            java,
            f"-Xmx{self.heap}",
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={LOG4J_CONFIG}",
            f"-Dkafka.logs.dir={self.data_dir}",
            "-cp",
            os.pathsep.join(str(jar) for jar in classpath),
            main,
        ]

    def _format_storage(self, java: str, classpath: list[Path]) -> None:
        """Format the KRaft log dir once; a formatted dir keeps its cluster id and data."""
        if (self.log_dirs / "meta.properties").is_file():
            return
        cmd = self._java_command(java, classpath, "kafka.tools.StorageTool")
        cmd += ["format", "-t", _new_cluster_id(), "-c", str(self.properties_path)]
        cmd += ["--ignore-formatted"]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
        if done.returncode != 0:
            raise RuntimeError(
                f"Kafka storage format failed (exit {done.returncode}):\n"
                + (done.stdout + done.stderr)[-3000:]
            )

    def _check_ports_free(self) -> None:
        for name, port in (("port", self.port), ("controller port", self.controller_port)):
            if port is not None and port_in_use(port):
                raise RuntimeError(
                    f"Kafka {name} {HOST}:{port} is already in use (another broker?)"
                )

    def start(self, timeout: float = 90) -> None:
        """Start the broker in its own process group and wait until it answers.

        The timeout counts from the JVM launch; the one-off Maven download before it
        has its own limit. Raises RuntimeError, with the end of broker.log, when the
        broker exits or does not answer in time.
        """
        if self.is_running():
            self._wait_ready(timeout)
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._check_ports_free()
        classpath = ensure_classpath()
        java = java_executable()
        self.write_properties()
        self._check_ports_free()
        self._format_storage(java, classpath)
        if self.log_path.exists():
            self.log_path.replace(self.log_path.with_name(LOG_FILE + ".1"))
        cmd = [*self._java_command(java, classpath, "kafka.Kafka"), str(self.properties_path)]
        with open(self.log_path, "wb") as log:
            self._proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.data_dir,
                start_new_session=True,  # own process group: survives the caller, no ^C
            )
        self.pid_path.write_text(f"{self._proc.pid}\n")
        try:
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.is_ready():
                return
            if not self.is_running():
                raise RuntimeError(
                    f"Kafka broker exited during startup; last lines of {self.log_path}:\n"
                    + log_tail(self.log_path)
                )
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"Kafka broker on {self.bootstrap} did not answer within {timeout:.0f}s;"
                    f" last lines of {self.log_path}:\n" + log_tail(self.log_path)
                )
            time.sleep(0.2)

    def stop(self, timeout: float = 30) -> None:
        """SIGTERM the broker's process group (a clean shutdown), SIGKILL after timeout."""
        pid = self.pid()
        if pid is not None:
            self._signal(pid, signal.SIGTERM)
            if not self._wait_exit(pid, timeout):
                self._signal(pid, signal.SIGKILL)
                self._wait_exit(pid, 10)
        if self._proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(timeout=1)  # reap, so no zombie is left behind
            self._proc = None
        self.pid_path.unlink(missing_ok=True)

    @staticmethod
    def _signal(pid: int, sig: signal.Signals) -> None:
        try:
            os.killpg(pid, sig)  # the broker leads its own group (start_new_session)
        except ProcessLookupError:
            return
        except PermissionError:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)

    def _wait_exit(self, pid: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc is not None:
                if self._proc.poll() is not None:
                    return True
            elif not pid_alive(pid):
                return True
            time.sleep(0.1)
        return False

    # -- context manager

    def __enter__(self) -> LocalKafka:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

