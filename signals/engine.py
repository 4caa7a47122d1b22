"""One :class:`Ingest` feeding one :class:`Evaluator`: a file, the simulator, a test.

No forwarding: drivers read ``engine.ingest`` (counters, watermark) and
``engine.evaluator`` (rows, alert state, episodes) directly. The Kafka worker wires the same
two parts through :mod:`signals.merge` instead, one ingest per partition.
"""

from __future__ import annotations

from signals.config import Config
from signals.evaluator import Evaluator
from signals.ingest import Ingest
from signals.keys import Bucket
from signals.reload import reload_blocker
from signals.tags import tag_spec
from signals.threats import ThreatDetector
from signals.threats_config import ThreatsConfig


class Engine:
    def __init__(self, config: Config, threats: ThreatsConfig | None = None) -> None:
        """``threats``: also run the emergent-threat detectors (``engine.threats``)."""
        self.config = config
        self.evaluator = Evaluator(config)
        self.threats = (None if threats is None else
                        ThreatDetector(threats, config.pane_s, config.areas))
        self.ingest = Ingest(config, on_close=self._closed,
                             threats=None if threats is None else tag_spec(threats))

    def _closed(self, pane: int, bucket: Bucket, closed_until: int) -> None:
        threats = self.threats
        if threats is not None:
            threats.add_pane(pane, bucket)  # first: it moves the tags out of the counts
        self.evaluator.add_pane(pane, bucket)
        if not bucket:  # the end-of-batch call: the frontier moved
            self.evaluator.close_through(closed_until)
            if threats is not None:
                threats.close_through(closed_until)

    def flush(self) -> None:
        """End of input: close every open pane."""
        self.ingest.flush()

    def reconfigure(self, config: Config) -> str | None:
        """Swap in new thresholds; returns why not (and changes nothing) if it cannot."""
        blocker = reload_blocker(self.config, config)
        if blocker is None:
            self.config = config
            self.evaluator.reconfigure(config)
        return blocker

    def advance(self, watermark: float) -> None:
        """Close panes up to ``watermark`` without an event (an idle source)."""
        self.ingest.close_through(watermark)
