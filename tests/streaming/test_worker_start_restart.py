"""Which start failures make ``harmwatch worker`` wait and start again, and how long."""

from __future__ import annotations

from aiokafka.errors import KafkaConnectionError
from kafka.errors import KafkaTimeoutError

from streams.kafka.worker import broker_failure, restart_delay_s


def test_a_kafka_client_error_anywhere_in_the_chain_is_a_lost_broker() -> None:
    direct: BaseException = KafkaConnectionError("Unable to bootstrap from [('127.0.0.1', 1)]")
    assert broker_failure(direct) is direct
    try:
        try:
            raise direct
        except Exception as exc:
            raise RuntimeError("service crashed") from exc
    except RuntimeError as wrapped:
        assert broker_failure(wrapped) is direct
    other = KafkaTimeoutError()
    assert broker_failure(other) is other  # kafka-python's, from topic creation


def test_a_bug_or_nothing_is_not_a_lost_broker() -> None:
    assert broker_failure(None) is None
    assert broker_failure(ValueError("bad config")) is None
    loop = ValueError("a")
    loop.__context__ = loop  # a cycle must not hang the walk
    assert broker_failure(loop) is None


def test_restarts_back_off_to_thirty_seconds() -> None:
    assert [restart_delay_s(n) for n in range(7)] == [1, 2, 4, 8, 16, 30, 30]
