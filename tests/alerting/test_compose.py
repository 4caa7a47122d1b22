"""docker-compose.yml checked without Docker: mounts exist, images pinned, ports agree with
prometheus.yml, alertmanager.yml, the Grafana datasource and the harmwatch commands."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from tests.alerting.alerting_stack import ALERTMANAGER_YML, COMPOSE, PROMETHEUS_YML, RULES
from tests.support import REPO


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return data


def _services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return dict(compose["services"])


def _flag(command: list[str], name: str) -> str:
    for i, arg in enumerate(command):
        if arg == name:
            return command[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    raise AssertionError(f"{name} not in {command}")


def test_every_mounted_host_path_exists(compose: dict[str, Any]) -> None:
    named = set(compose.get("volumes") or {})
    checked = 0
    for name, service in _services(compose).items():
        for mount in service.get("volumes", []):
            source = mount.split(":")[0]
            if source in named:
                continue
            assert source.startswith("./"), f"{name}: {mount} is not repository-relative"
            assert (REPO / source).exists(), f"{name}: {source} does not exist"
            checked += 1
        build = service.get("build")
        if build:
            assert (REPO / build["context"] / build["dockerfile"]).is_file()
    assert checked >= 8


def test_every_image_is_pinned(compose: dict[str, Any]) -> None:
    for name, service in _services(compose).items():
        image = service["image"]
        repo, _, tag = image.rpartition(":")
        assert repo and tag, f"{name}: {image} has no tag"
        assert tag != "latest" and re.match(r"v?\d+\.\d+\.\d+", tag), f"{name}: {image}"


def test_tested_versions_are_the_deployed_ones(compose: dict[str, Any]) -> None:
    services = _services(compose)
    assert services["prometheus"]["image"] == "prom/prometheus:v2.42.0"
    assert services["alertmanager"]["image"] == "prom/alertmanager:v0.25.0"
    pom = (REPO / "deploy/kafka/pom.xml").read_text()
    kafka_version = re.search(r"<kafka.version>([^<]+)</kafka.version>", pom)
    assert kafka_version, "deploy/kafka/pom.xml names no kafka.version"
    assert services["kafka"]["image"] == f"apache/kafka:{kafka_version.group(1)}"


def test_every_long_running_service_has_a_healthcheck(compose: dict[str, Any]) -> None:
    for name, service in _services(compose).items():
        if service.get("restart") == "no":  # one-shot jobs
            continue
        assert "healthcheck" in service, name
        assert service["healthcheck"]["test"], name


def test_host_ports_are_loopback_and_unique(compose: dict[str, Any]) -> None:
    seen: dict[str, str] = {}
    for name, service in _services(compose).items():
        for mapping in service.get("ports", []):
            host_ip, host_port, _container = mapping.split(":")
            assert host_ip == "127.0.0.1", f"{name}: {mapping}"
            assert host_port not in seen, f"{name} and {seen.get(host_port)} share {host_port}"
            seen[host_port] = name
    assert {"9090", "9093", "3000"} <= set(seen)


def test_prometheus_reaches_alertmanager_and_harmwatch(compose: dict[str, Any]) -> None:
    services = _services(compose)
    prom = yaml.safe_load(PROMETHEUS_YML.read_text())
    [target] = prom["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"]
    host, port = target.split(":")
    assert host in services
    assert _flag(services[host]["command"], "--web.listen-address") == f":{port}"

    job = next(j for j in prom["scrape_configs"] if j["job_name"] == "harmwatch")
    assert job["scrape_interval"] == "1s"
    ports_by_alias: dict[str, list[str]] = {}
    for service in services.values():
        for alias in (service.get("networks") or {}).get("default", {}).get("aliases", []):
            command = service["command"]
            port = (_flag(command, "--web-port") if "--web-port" in command
                    else _flag(command, "--metrics-port"))
            ports_by_alias.setdefault(alias, []).append(port)
    for sd in job["dns_sd_configs"]:
        [name] = sd["names"]
        assert ports_by_alias.get(name) == [str(sd["port"])], name

    prom_mounts = services["prometheus"]["volumes"]
    assert "./deploy/prometheus/rules:/etc/prometheus/rules:ro" in prom_mounts
    assert prom["rule_files"] == ["rules/*.yml"]
    assert RULES.parent.name == "rules"


def test_alertmanager_webhooks_reach_the_sink(compose: dict[str, Any]) -> None:
    services = _services(compose)
    sink_port = _flag(services["notify-sink"]["command"], "--port")
    config = yaml.safe_load(ALERTMANAGER_YML.read_text())
    urls = [h["url"] for r in config["receivers"] for h in r.get("webhook_configs", [])]
    assert urls
    for url in urls:
        assert url.startswith(f"http://notify-sink:{sink_port}/"), url
    mounts = services["alertmanager"]["volumes"]
    for pd in (p for r in config["receivers"] for p in r.get("pagerduty_configs", [])):
        secrets_dir = pd["routing_key_file"].rsplit("/", 1)[0]
        assert any(m.endswith(f":{secrets_dir}:ro") for m in mounts)
    assert any(m.endswith(":/etc/alertmanager/templates:ro") for m in mounts)
    assert config["templates"] == ["/etc/alertmanager/templates/*.tmpl"]


def test_grafana_datasource_and_alert_links_match(compose: dict[str, Any]) -> None:
    services = _services(compose)
    datasource = yaml.safe_load(
        (REPO / "deploy/grafana/provisioning/datasources/harmwatch.yml").read_text())
    url = datasource["datasources"][0]["url"]
    assert url == "http://prometheus:9090"
    assert _flag(services["prometheus"]["command"], "--web.listen-address") == ":9090"
    grafana_host_port = services["grafana"]["ports"][0].split(":")[1]
    assert f"dashboard_url: http://localhost:{grafana_host_port}/d/" in RULES.read_text()


def test_workers_talk_to_the_compose_broker(compose: dict[str, Any]) -> None:
    services = _services(compose)
    assert "PLAINTEXT://kafka:9092" in services["kafka"]["environment"][
        "KAFKA_ADVERTISED_LISTENERS"]
    assert _flag(services["harmwatch-worker"]["command"], "--broker") == "kafka:9092"
    assert "--broker kafka:9092" in " ".join(services["producer"]["command"])
    assert services["harmwatch-worker"]["command"][0] == "worker"


def test_image_build_leaves_out_this_machines_compiled_modules() -> None:
    """A host-built engine .so copied into the image would import without the mypyc
    runtime library it needs (that sits outside the packages)."""
    ignored = (REPO / ".dockerignore").read_text().split()
    assert "**/*.so" in ignored and ".venv/" in ignored


def test_image_compiles_its_own_engine_and_proves_it_loads() -> None:
    """docker/Dockerfile, read as text (no Docker here): a build stage compiles the engine
    on the runtime's own base image, and the image build fails unless the compiled
    modules are what loads (the same build and check as CI's compiled pass)."""
    text = (REPO / "docker" / "Dockerfile").read_text()
    stages = [line.split()[1:] for line in text.splitlines() if line.startswith("FROM ")]
    assert [s[2:] for s in stages] == [["native"], []], stages
    assert stages[0][0] == stages[1][0]  # one base image: one Python ABI
    # Continuation lines joined and spaces collapsed: the checks read commands, not layout.
    native, runtime = (" ".join(part.replace("\\\n", " ").split())
                       for part in text.split("\nFROM ", 2)[1:])
    assert "--require-hashes -r requirements/dev.lock" in native  # mypyc, from the lock
    assert "RUN bash scripts/build-native.sh" in native
    assert "COPY --from=native /src/signals ./signals" in runtime
    assert "COPY --from=native /src/*__mypyc*.so ./" in runtime
    assert "ENV PYTHONPATH=/app" in runtime
    assert runtime.index("RUN python scripts/check-native.py compiled") > runtime.index(
        "COPY --from=native /src/signals")
