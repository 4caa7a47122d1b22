"""The jars and the Java that run a local Apache Kafka broker (:mod:`streams.dev.kafka_broker`).

The broker is the Apache ``kafka_2.13`` jar from Maven Central, run with the machine's
Java 17: no Docker, no tarball download. ``deploy/kafka/pom.xml`` lists the broker plus
a log4j2 binding; Maven copies that runtime classpath once into a cache folder, and every
later start reuses it without touching the network.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import subprocess
from pathlib import Path

from streams import paths

#: Kafka release run by :class:`LocalKafka`. Verified here with kafka-python 3.x, aiokafka
#: 0.14 consumer groups and a faust-streaming 0.15.3 worker (as were 4.0.2 and 4.4.0); see
#: deploy/kafka/README.md. Keep in step with ``kafka.version`` in deploy/kafka/pom.xml
#: (the value here wins: it is passed to Maven).
KAFKA_VERSION = "4.2.2"

DEPLOY_DIR = paths.DEPLOY_DIR / "kafka"
POM_PATH = DEPLOY_DIR / "pom.xml"
LOG4J_CONFIG = DEPLOY_DIR / "log4j2.properties"
MAVEN_TIMEOUT = 900.0


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

