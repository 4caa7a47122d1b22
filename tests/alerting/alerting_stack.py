"""Real processes for the alerting tests: harmwatch, Prometheus and Alertmanager on loopback.

Every process is started with a free port and a tmp dir and registered for stopping, so a
failing test still leaves nothing running. Readiness is polled with generous deadlines (the
CI machine has two busy cores), never assumed after a fixed sleep.
"""

from __future__ import annotations

import copy
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from tests.support import REPO, wait_until

HARMWATCH = str(Path(sys.executable).with_name("harmwatch"))
RULES = REPO / "deploy/prometheus/rules/harmwatch-alerts.yml"
PROMETHEUS_YML = REPO / "deploy/prometheus/prometheus.yml"
ALERTMANAGER_YML = REPO / "deploy/alertmanager/alertmanager.yml"
TEMPLATES = REPO / "deploy/alertmanager/templates"
DASHBOARDS = REPO / "deploy/grafana/dashboards"
COMPOSE = REPO / "docker-compose.yml"


def binary(name: str) -> str:
    path = shutil.which(name)
    assert path, f"{name} not found: run scripts/install-system-deps.sh"
    return path


def http_get(url: str, timeout: float = 2.0) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        body: bytes = resp.read()
        return body


def poll(what: str, check: Callable[[], Any], timeout_s: float, every_s: float = 0.1) -> Any:
    """:func:`tests.support.wait_until`, also tolerating an HTTP error or a half-written
    JSON body while a server starts."""
    return wait_until(check, timeout_s, what, interval=every_s,
                      tolerate=(OSError, urllib.error.URLError, ValueError))


class Processes:
    """Starts processes, keeps their output in files, stops them all (also on failure)."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.procs: list[tuple[str, subprocess.Popen[bytes], Path]] = []

    def start(self, name: str, argv: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
        log = self.workdir / f"{name}.log"
        handle = log.open("wb")
        proc = subprocess.Popen(argv, stdout=handle, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, **kwargs)
        handle.close()
        self.procs.append((name, proc, log))
        return proc

    def log(self, name: str) -> str:
        for n, _, path in self.procs:
            if n == name:
                return path.read_text(errors="replace")[-4000:]
        return ""

    def wait_ready(self, name: str, url: str, timeout_s: float = 60) -> None:
        proc = next(p for n, p, _ in self.procs if n == name)

        def ready() -> bool:
            if proc.poll() is not None:
                raise AssertionError(f"{name} exited with {proc.returncode}:\n{self.log(name)}")
            http_get(url)
            return True

        try:
            poll(f"{name} at {url}", ready, timeout_s, every_s=0.2)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n--- {name} log ---\n{self.log(name)}") from None

    def stop_all(self) -> None:
        for _, proc, _ in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
        for _, proc, _ in reversed(self.procs):
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


def prometheus_config(harmwatch_port: int, alertmanager_port: int) -> dict[str, Any]:
    """The committed prometheus.yml with loopback targets: same rules, same intervals."""
    config: dict[str, Any] = yaml.safe_load(PROMETHEUS_YML.read_text())
    config["global"]["evaluation_interval"] = "1s"
    config["rule_files"] = [str(RULES)]
    config["alerting"]["alertmanagers"] = [
        {"static_configs": [{"targets": [f"127.0.0.1:{alertmanager_port}"]}]}]
    job = next(j for j in config["scrape_configs"] if j["job_name"] == "harmwatch")
    job.pop("dns_sd_configs")
    job["static_configs"] = [{"targets": [f"127.0.0.1:{harmwatch_port}"]}]
    config["scrape_configs"] = [job]
    return config


def alertmanager_config(sink_port: int, routing_key_file: Path,
                        group_interval: str | None = None) -> dict[str, Any]:
    """The committed alertmanager.yml with every receiver pointed at the test's sink.

    Webhooks keep their path (/pager, /tickets, /engineering) so the test knows which
    receiver sent what; PagerDuty goes to /pagerduty on the same sink.
    """
    config: dict[str, Any] = copy.deepcopy(yaml.safe_load(ALERTMANAGER_YML.read_text()))
    config["templates"] = [str(TEMPLATES / "*.tmpl")]
    for receiver in config["receivers"]:
        for hook in receiver.get("webhook_configs", []):
            path = "/" + hook["url"].split("://", 1)[1].split("/", 1)[1]
            hook["url"] = f"http://127.0.0.1:{sink_port}{path}"
        for pd in receiver.get("pagerduty_configs", []):
            pd["url"] = f"http://127.0.0.1:{sink_port}/pagerduty/{receiver['name']}"
            pd["routing_key_file"] = str(routing_key_file)
    if group_interval is not None:
        def shorten(route: dict[str, Any]) -> None:
            if "group_interval" in route:
                route["group_interval"] = group_interval
            for child in route.get("routes", []):
                shorten(child)
        config["route"]["group_interval"] = group_interval
        shorten(config["route"])
    return config


def write_yaml(path: Path, data: object) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path
