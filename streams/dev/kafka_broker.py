"""A real single-node Apache Kafka broker (KRaft) for development and tests.

The broker is the Apache ``kafka_2.13`` jar from Maven Central, run with the machine's
Java 17: no Docker, no tarball download. ``deploy/kafka/pom.xml`` lists the broker plus
a log4j2 binding; Maven copies that runtime classpath once into a cache folder, and every
later start reuses it without touching the network.

Pure standard library on purpose: the module must work before any client library is
installed and from a plain ``python -m streams.dev.kafka_broker up``.

Command line (also ``deploy/kafka/kafka.sh``)::

    python -m streams.dev.kafka_broker up|down|status [--data-dir var/kafka] [--port 9092]
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import fcntl
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

from streams import paths

#: Kafka release run by :class:`LocalKafka`. Verified here with kafka-python 3.x, aiokafka
#: 0.14 consumer groups and a faust-streaming 0.15.3 worker (as were 4.0.2 and 4.4.0); see
#: deploy/kafka/README.md. Keep in step with ``kafka.version`` in deploy/kafka/pom.xml
#: (the value here wins: it is passed to Maven).
KAFKA_VERSION = "4.2.2"

DEPLOY_DIR = paths.DEPLOY_DIR / "kafka"
POM_PATH = DEPLOY_DIR / "pom.xml"
LOG4J_CONFIG = DEPLOY_DIR / "log4j2.properties"

HOST = "127.0.0.1"
DEFAULT_PORT = 9092
PID_FILE = "kafka.pid"
PROPERTIES_FILE = "server.properties"
LOG_FILE = "broker.log"
LOG_DIRS = "kraft-logs"
MAVEN_TIMEOUT = 900.0


# --------------------------------------------------------------------------- classpath


def cache_dir() -> Path:
    """Folder holding the resolved jars for :data:`KAFKA_VERSION`.

    ``$HARMWATCH_CACHE`` replaces ``~/.cache/harmwatch``; the version stays in the folder
    name so that two versions never mix their jars.
    """
    base = os.environ.get("HARMWATCH_CACHE") or str(Path.home() / ".cache" / "harmwatch")
    return Path(base).expanduser() / f"kafka-{KAFKA_VERSION}"


def _read_classpath_file(path: Path) -> list[Path] | None:
    """Jars listed by a previous resolution, or None when any of them went missing."""
    if not path.is_file():
        return None
    jars = [Path(line) for line in path.read_text().splitlines() if line.strip()]
    if not jars or not all(jar.is_file() for jar in jars):
        return None
    return jars


def _run_maven(libs: Path, repo: Path) -> None:
    """Copy the broker's runtime jars into ``libs`` (network on first use only)."""
    mvn = shutil.which("mvn")
    if mvn is None:
        raise RuntimeError("Maven ('mvn') is not on PATH: it is needed once to fetch Kafka")
    if not POM_PATH.is_file():
        raise RuntimeError(f"{POM_PATH} not found: run from a harmwatch source checkout")
    cmd = [
        mvn, "-q", "-B", "-f", str(POM_PATH),
        f"-Dmaven.repo.local={repo}",
        f"-Dkafka.version={KAFKA_VERSION}",
        f"-Dkafka.libs={libs}",
        "dependency:copy-dependencies",
    ]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=MAVEN_TIMEOUT, check=False)
    if done.returncode != 0:
        output = (done.stdout + done.stderr).strip().splitlines()[-30:]
        raise RuntimeError(
            f"Maven could not resolve kafka_2.13:{KAFKA_VERSION} (exit {done.returncode}):\n"
            + "\n".join(output)
        )


def ensure_classpath() -> list[Path]:
    """Return the broker's runtime jars, running Maven only the first time.

    ``classpath.txt`` is written last, as the marker of a complete resolution, so an
    interrupted download is redone rather than half-used. A file lock keeps two
    processes (a CLI and a test run) from resolving into the same folder at once.
    """
    root = cache_dir()
    marker = root / "classpath.txt"
    jars = _read_classpath_file(marker)
    if jars is not None:
        return jars
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        jars = _read_classpath_file(marker)  # another process may have finished meanwhile
        if jars is not None:
            return jars
        libs, partial = root / "libs", root / "libs.partial"
        shutil.rmtree(partial, ignore_errors=True)
        _run_maven(partial, root / "m2")
        shutil.rmtree(libs, ignore_errors=True)
        partial.rename(libs)
        jars = sorted(libs.glob("*.jar"))
        if not any(jar.name.startswith("kafka_2.13-") for jar in jars):
            raise RuntimeError(f"Maven ran but no kafka_2.13 jar is in {libs}")
        tmp = marker.with_suffix(".tmp")
        tmp.write_text("".join(f"{jar}\n" for jar in jars))
        tmp.replace(marker)
        return jars


def java_executable() -> str:
    """Path of ``java``: ``$JAVA_HOME/bin/java`` first, else the one on PATH.

    Kafka 4.x brokers need Java 17 or newer; checking here turns an obscure
    UnsupportedClassVersionError in the log into a clear message.
    """
    home = os.environ.get("JAVA_HOME")
    java = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    if not java or not Path(java).is_file():
        raise RuntimeError("Java 17+ is needed to run Kafka and no 'java' was found")
    out = subprocess.run(
        [java, "-version"], capture_output=True, text=True, timeout=60, check=False
    )
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if match:
        major = int(match.group(1))
        if major == 1 and match.group(2):  # "1.8.0" style
            major = int(match.group(2))
        if major < 17:
            raise RuntimeError(f"Kafka {KAFKA_VERSION} needs Java 17+, {java} is Java {major}")
    return java


# --------------------------------------------------------------------------- probing


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


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    data = bytearray()
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("broker closed the connection")
        data += chunk
    return bytes(data)


def _metadata_request(correlation_id: int) -> bytes:
    """Metadata v4 for no topics (header v1). v4 is served by Kafka 2.x to 4.x alike."""
    client_id = b"harmwatch-probe"
    body = struct.pack(">hhih", 3, 4, correlation_id, len(client_id)) + client_id
    body += struct.pack(">i?", 0, False)  # topics: empty array; allow_auto_topic_creation
    return struct.pack(">i", len(body)) + body


def _parse_metadata(payload: bytes) -> tuple[int, int]:
    """(number of live brokers, controller id) from a Metadata v4 response body."""
    pos = 8  # correlation_id, throttle_time_ms
    (n_brokers,) = struct.unpack_from(">i", payload, pos)
    pos += 4
    for _ in range(n_brokers):
        pos += 4  # node_id
        (host_len,) = struct.unpack_from(">h", payload, pos)
        pos += 2 + host_len + 4  # host, port
        (rack_len,) = struct.unpack_from(">h", payload, pos)
        pos += 2 + max(rack_len, 0)
    (cluster_len,) = struct.unpack_from(">h", payload, pos)
    pos += 2 + max(cluster_len, 0)
    (controller_id,) = struct.unpack_from(">i", payload, pos)
    return n_brokers, controller_id


def broker_answers(port: int, host: str = HOST, timeout: float = 2.0) -> bool:
    """True when the broker serves a Metadata request listing itself as a live broker.

    An open port is not enough: the socket accepts connections before the broker has
    caught up with its metadata and been unfenced, and until then topic creation fails.
    """
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            sock.sendall(_metadata_request(1))
            (size,) = struct.unpack(">i", _recv_exact(sock, 4))
            payload = _recv_exact(sock, size)
    except (OSError, ConnectionError, struct.error):
        return False
    if struct.unpack_from(">i", payload)[0] != 1:
        return False
    try:
        n_brokers, controller_id = _parse_metadata(payload)
    except struct.error:
        return False
    return n_brokers >= 1 and controller_id >= 0


# --------------------------------------------------------------------------- processes


def _pid_alive(pid: int) -> bool:
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


def _cmdline(pid: int) -> str | None:
    """Command line of ``pid``, or None where /proc is not available."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return None


def _tail(path: Path, lines: int = 40) -> str:
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
        if not _pid_alive(pid):
            return None
        cmdline = _cmdline(pid)
        if cmdline is not None and (
            "kafka.Kafka" not in cmdline or str(self.properties_path) not in cmdline
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
                    + _tail(self.log_path)
                )
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"Kafka broker on {self.bootstrap} did not answer within {timeout:.0f}s;"
                    f" last lines of {self.log_path}:\n" + _tail(self.log_path)
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
            elif not _pid_alive(pid):
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


# --------------------------------------------------------------------------- CLI


def _broker_from_args(args: argparse.Namespace) -> LocalKafka:
    """The broker for ``--data-dir``; without ``--port``, the port it was last run on."""
    data_dir = Path(args.data_dir)
    port = args.port
    if port is None:
        listeners = read_properties(data_dir / PROPERTIES_FILE).get("advertised.listeners", "")
        match = re.search(r":(\d+)$", listeners)
        port = int(match.group(1)) if match else DEFAULT_PORT
    return LocalKafka(data_dir, port=port)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="harmwatch dev kafka",
        description=f"Run a local single-node Apache Kafka {KAFKA_VERSION} (KRaft) broker.",
    )
    parser.add_argument("command", choices=("up", "down", "status"))
    parser.add_argument(
        "--data-dir", default="var/kafka", help="broker state and log (default: var/kafka)"
    )
    parser.add_argument(
        "--port", type=int, default=None, help="client port (default: last used, else 9092)"
    )
    parser.add_argument(
        "--timeout", type=float, default=90.0, help="seconds to wait for readiness on up"
    )
    return parser


def _status_lines(broker: LocalKafka) -> Iterator[str]:
    pid = broker.pid()
    if pid is None:
        yield f"stopped {broker.bootstrap} (data dir {broker.data_dir})"
        return
    state = "running" if broker.is_ready() else "running (not answering yet)"
    yield f"{state} {broker.bootstrap} pid {pid} log {broker.log_path}"


def main(argv: list[str] | None = None) -> int:
    """``up`` starts and detaches, ``down`` stops, ``status`` reports.

    Exit codes: 0 on success (``status``: running), 1 on failure, 3 when ``status``
    finds the broker stopped (the LSB convention for "not running").
    """
    args = _parser().parse_args(argv)
    broker = _broker_from_args(args)
    try:
        if args.command == "up":
            was_running = broker.is_running()
            started = time.monotonic()
            broker.start(timeout=args.timeout)
            took = time.monotonic() - started
            verb = "already running" if was_running else f"up in {took:.1f}s"
            print(f"kafka {KAFKA_VERSION} {verb}: {broker.bootstrap} pid {broker.pid()}")
            return 0
        if args.command == "down":
            running = broker.is_running()
            broker.stop()
            print("kafka stopped" if running else "kafka was not running")
            return 0
        for line in _status_lines(broker):
            print(line)
        return 0 if broker.is_running() else 3
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
