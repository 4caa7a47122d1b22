"""Default ports and addresses, each named once (the CLI, the docs' commands and the
compose file use these numbers)."""

from typing import Final

LOOPBACK: Final = "127.0.0.1"
DEFAULT_METRICS_PORT: Final = 9464  # `harmwatch run` /metrics
DEFAULT_WORKER_PORT: Final = 6066  # `harmwatch worker` web server and /metrics
