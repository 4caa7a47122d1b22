"""Is a Kafka broker there and serving? Asked with kafka-python's admin client.

An open port is not enough: a KRaft broker accepts connections before it has caught up
with the cluster metadata and been unfenced, and until then topic creation fails. So the
check is a DescribeCluster (kafka-python falls back to Metadata on old brokers) that must
list at least one broker that is not fenced.
"""

from __future__ import annotations

import contextlib
import logging
import socket
from collections.abc import Iterator

from kafka import KafkaAdminClient
from kafka.errors import KafkaError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_KAFKA_PORT = 9092


@contextlib.contextmanager
def _quiet_client_logs() -> Iterator[None]:
    """kafka-python logs every refused connection at ERROR; a probe's "no" is its answer,
    and ``harmwatch worker`` prints one line per attempt itself."""
    logger = logging.getLogger("kafka")
    level, propagate = logger.level, logger.propagate
    logger.setLevel(logging.CRITICAL + 1)
    logger.propagate = False
    try:
        yield
    finally:
        logger.setLevel(level)
        logger.propagate = propagate


def broker_answers(port: int, host: str = DEFAULT_HOST, timeout: float = 2.0) -> bool:
    """True when the broker at ``host:port`` lists a live (unfenced) broker."""
    try:
        # A refused port fails here at once; the client would retry until its timeout.
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError:
        return False
    ms = int(timeout * 1000)
    with _quiet_client_logs():
        try:
            admin = KafkaAdminClient(bootstrap_servers=f"{host}:{port}",
                                     client_id="harmwatch-probe", bootstrap_timeout_ms=ms,
                                     request_timeout_ms=ms)
        except (KafkaError, OSError):
            return False
        try:
            cluster = admin.describe_cluster()
        except (KafkaError, OSError):
            return False
        finally:
            admin.close()
    brokers = cluster.get("brokers") or []
    return any(not b.get("is_fenced", False) for b in brokers)


def endpoints(broker: str) -> list[tuple[str, int]]:
    """``host:port[,host:port...]`` (a ``kafka://`` prefix allowed) as pairs."""
    out = []
    for part in broker.replace("kafka://", "").split(","):
        host, _, port = part.strip().rpartition(":")
        out.append((host or DEFAULT_HOST, int(port or DEFAULT_KAFKA_PORT)))
    return out


def broker_reachable(broker: str) -> bool:
    return any(broker_answers(port, host=host) for host, port in endpoints(broker))
