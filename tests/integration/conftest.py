"""Fixtures for integration tests that need a real Apache Kafka broker.

The broker is started by the tests themselves (streams.dev.kafka_broker): the first run on a
fresh machine fetches the jars with Maven, later runs start in a few seconds.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from streams.dev.kafka_broker import LocalKafka
from tests.streaming.kafka_harness import Env, Worker
from tests.support import free_ports


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalKafka]:
    """A single-node KRaft broker on a free port, for the whole test session.

    No skip when it cannot start: LocalKafka.start raises with the broker log's tail,
    and every test that needs the broker fails with that message.
    """
    port, controller_port = free_ports(2)  # client and controller, distinct
    broker = LocalKafka(
        tmp_path_factory.mktemp("kafka"), port=port, controller_port=controller_port
    )
    broker.start(timeout=120)
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture
def env(kafka_broker: LocalKafka, tmp_path: Path) -> Env:
    return Env(kafka_broker.bootstrap, tmp_path)


@pytest.fixture
def workers() -> Iterator[list[Worker]]:
    """Every worker a test starts is stopped at teardown, also when the test fails."""
    started: list[Worker] = []
    yield started
    for w in started:
        w.stop(timeout=20)
