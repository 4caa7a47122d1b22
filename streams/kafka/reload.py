"""Hot reload of a worker's thresholds, with the same audit log as ``harmwatch run``.

A Faust timer calls :meth:`WorkerReload.poll`: :class:`streams.config_files.ConfigWatcher`
reads the file when it changed and refuses (and records) a file that does not validate or
that a running engine cannot take (a new pane, engine settings, taxonomy). An accepted one
goes to every area merge's evaluator, to areas taken over later and to ``/metrics``; only
then is it assigned to ``watcher.current``, which records the acceptance. A refused file
leaves the last good config in force.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from signals.config import Config
from streams.config_files import ConfigWatcher

log = logging.getLogger("harmwatch.worker")


class WorkerReload:
    def __init__(self, path: Path | None, config: Config, audit_log: Path | None,
                 apply: Callable[[Config], None]) -> None:
        # At start an audit log that cannot be written stops the worker (OSError): a
        # process that must keep audit evidence does not run without it.
        self.watcher = ConfigWatcher(path, config, audit_log=audit_log)
        self.apply = apply

    def poll(self) -> str | None:
        """Reload when the file changed; the line logged about it, or None."""
        new, refused = self.watcher.poll()
        old = self.watcher.current.digest
        if refused is not None:
            message = f"config refused, keeping {old}: {refused.splitlines()[0]}"
            log.warning("%s", message)
            return message
        if new is None:
            return None
        self.apply(new)
        self.watcher.current = new
        message = f"config reloaded: {old} -> {new.digest}"
        log.warning("%s", message)
        return message
