"""A real Kafka broker from streams.dev.kafka_broker, spoken to by both clients the project uses.

kafka-python 3.x (admin, producer, consumer) and aiokafka 0.14 with a consumer group,
which is the group coordinator protocol Faust relies on; and the broker check
(streams.kafka.broker_check) that the worker and ``LocalKafka.start`` wait on.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin import NewTopic as AIONewTopic
from kafka import KafkaConsumer, KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic

from streams.dev.kafka_broker import KAFKA_VERSION, LocalKafka
from streams.kafka.broker_check import broker_answers, broker_reachable
from tests.support import REPO, free_port, wait_until

pytestmark = pytest.mark.integration



def _topic(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _create_topic(bootstrap: str, name: str, partitions: int = 1) -> None:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="hw-test-admin")
    try:
        admin.create_topics([NewTopic(name, partitions, 1)])
        # The broker's metadata cache may trail the controller by a moment (seen under load).
        wait_until(lambda: name in admin.list_topics(), 30, f"topic {name} listed")
    finally:
        admin.close()


def _produce(bootstrap: str, topic: str, values: list[bytes]) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    try:
        for value in values:
            producer.send(topic, value=value, key=value[:1])
        producer.flush(timeout=30)
    finally:
        producer.close()


def _consume(bootstrap: str, topic: str, count: int, group_id: str | None = None) -> list[bytes]:
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group_id,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=20_000,
    )
    got: list[bytes] = []
    try:
        for message in consumer:
            got.append(message.value)
            if len(got) >= count:
                break
        if group_id is not None:
            consumer.commit()
    finally:
        consumer.close()
    return got


def test_broker_answers_metadata(kafka_broker: LocalKafka) -> None:
    assert kafka_broker.is_running()
    assert broker_answers(kafka_broker.port)
    assert kafka_broker.bootstrap == f"127.0.0.1:{kafka_broker.port}"
    assert KAFKA_VERSION.startswith("4.")


def test_broker_check_by_bootstrap_string(kafka_broker: LocalKafka) -> None:
    dead = f"127.0.0.1:{free_port()}"
    assert broker_reachable(kafka_broker.bootstrap)
    assert broker_reachable(f"kafka://{dead},{kafka_broker.bootstrap}")  # any one answers
    assert not broker_reachable(dead)


def test_an_open_port_that_is_not_kafka_does_not_answer() -> None:
    """A listener that accepts and never speaks Kafka: the check must time out to False,
    not take the open port for a broker."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        port = server.getsockname()[1]
        accepted: list[socket.socket] = []

        def accept() -> None:
            while True:
                try:
                    accepted.append(server.accept()[0])
                except OSError:
                    return

        threading.Thread(target=accept, daemon=True).start()
        started = time.monotonic()
        assert not broker_answers(port, timeout=1.0)
        assert time.monotonic() - started < 10
        assert accepted  # it did connect: the port was open
        for conn in accepted:
            conn.close()


def test_kafka_python_round_trip(kafka_broker: LocalKafka) -> None:
    topic = _topic("kp")
    _create_topic(kafka_broker.bootstrap, topic)
    values = [f"event-{i}".encode() for i in range(200)]
    _produce(kafka_broker.bootstrap, topic, values)
    assert _consume(kafka_broker.bootstrap, topic, len(values)) == values


async def _aiokafka_round_trip(bootstrap: str, topic: str, values: list[bytes]) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([AIONewTopic(topic, num_partitions=1, replication_factor=1)])
    finally:
        await admin.close()

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for value in values:
            await producer.send(topic, value)
        await producer.flush()
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"{topic}-group",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    got: list[bytes] = []
    try:
        async with asyncio.timeout(30):
            while len(got) < len(values):
                batches = await consumer.getmany(timeout_ms=1000)
                for records in batches.values():
                    got.extend(record.value for record in records if record.value is not None)
        assert got == values
        await consumer.commit()
        committed = await consumer.committed(TopicPartition(topic, 0))
    finally:
        await consumer.stop()
    return int(committed or 0)


def test_aiokafka_consumer_group_round_trip(kafka_broker: LocalKafka) -> None:
    topic = _topic("aio")
    values = [f"msg-{i}".encode() for i in range(300)]
    committed = asyncio.run(_aiokafka_round_trip(kafka_broker.bootstrap, topic, values))
    assert committed == len(values)


def test_restart_keeps_topic_data(kafka_broker: LocalKafka) -> None:
    topic, group = _topic("durable"), _topic("durable-group")
    _create_topic(kafka_broker.bootstrap, topic)
    values = [f"kept-{i}".encode() for i in range(50)]
    _produce(kafka_broker.bootstrap, topic, values)
    assert _consume(kafka_broker.bootstrap, topic, 20, group_id=group) == values[:20]

    kafka_broker.stop()
    assert not kafka_broker.is_running()
    assert not broker_answers(kafka_broker.port)
    kafka_broker.start(timeout=120)

    assert _consume(kafka_broker.bootstrap, topic, len(values)) == values
    # The group's committed offset survived too: it resumes after the first 20.
    assert _consume(kafka_broker.bootstrap, topic, 30, group_id=group) == values[20:]


def test_cli_up_status_down_detached(tmp_path: Path) -> None:
    """deploy/kafka/kafka.sh: `up` returns with the broker left running, `down` stops it."""
    script = REPO / "deploy" / "kafka" / "kafka.sh"
    port = free_port()
    env = {**os.environ, "PYTHON": sys.executable}
    args = ["--data-dir", str(tmp_path / "kafka"), "--port", str(port)]

    def run(command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", str(script), command, *args],
            capture_output=True, text=True, env=env, timeout=180, check=False,
        )  # fmt: skip

    try:
        up = run("up")
        assert up.returncode == 0, up.stdout + up.stderr
        assert broker_answers(port)
        status = run("status")
        assert status.returncode == 0 and status.stdout.startswith("running"), status.stdout
        assert f"127.0.0.1:{port}" in status.stdout
    finally:
        down = run("down")
    assert down.returncode == 0, down.stdout + down.stderr
    stopped = run("status")
    assert stopped.returncode == 3 and stopped.stdout.startswith("stopped"), stopped.stdout
    assert not broker_answers(port)
