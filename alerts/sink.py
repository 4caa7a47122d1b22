"""A small HTTP receiver for Alertmanager notifications (webhook and PagerDuty payloads).

It stands in for the pager, the work queue and the engineering channel where no real ones
exist: in docker-compose it prints one line per notification, and the end-to-end test reads
what it received with the arrival time. Keeps only the path, the wall-clock arrival time and
the JSON body; it never logs headers (the PagerDuty routing key travels in the body, and is
dropped before printing).
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TextIO


@dataclass(frozen=True)
class Received:
    path: str
    at: float  # time.time() when the request was read
    body: dict[str, Any]


class Sink:
    """Collects notifications; ``wait_for`` polls them with a deadline."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0,
                 on_receive: Callable[[Received], None] | None = None) -> None:
        self.received: list[Received] = []
        self._lock = threading.Lock()
        self._on_receive = on_receive
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    self.send_response(400)
                    self.end_headers()
                    return
                item = Received(self.path, time.time(), body if isinstance(body, dict) else {})
                with sink._lock:
                    sink.received.append(item)
                if sink._on_receive is not None:
                    sink._on_receive(item)
                # PagerDuty's Events API v2 answers 202 with a small JSON body.
                self.send_response(202)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"status":"success","message":"Event processed"}')

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.port = self.server.server_address[1]
        self._thread: threading.Thread | None = None

    def start(self) -> Sink:
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def snapshot(self) -> list[Received]:
        with self._lock:
            return list(self.received)

    def wait_for(self, predicate: Callable[[Received], bool], timeout_s: float) -> Received:
        deadline = time.monotonic() + timeout_s
        while True:
            for item in self.snapshot():
                if predicate(item):
                    return item
            if time.monotonic() > deadline:
                raise TimeoutError(f"no matching notification within {timeout_s:g}s; got "
                                   f"{[(r.path, r.body.get('status')) for r in self.snapshot()]}")
            time.sleep(0.05)


def summary_line(item: Received) -> str:
    """One printable line: alert names, status and the safe annotations; never a routing key."""
    body = item.body
    if "routing_key" in body:  # PagerDuty Events API v2
        return json.dumps({"path": item.path, "event_action": body.get("event_action"),
                           "summary": body.get("payload", {}).get("summary")})
    alerts = body.get("alerts") or []
    return json.dumps({
        "path": item.path, "status": body.get("status"),
        "alerts": [{"alertname": a.get("labels", {}).get("alertname"),
                    "status": a.get("status"),
                    "severity": a.get("labels", {}).get("severity"),
                    "policy_area": a.get("labels", {}).get("policy_area"),
                    "value": a.get("annotations", {}).get("value"),
                    "threshold": a.get("annotations", {}).get("threshold")} for a in alerts],
    })


def serve(host: str, port: int, out: TextIO = sys.stdout) -> None:
    sink = Sink(host, port, on_receive=lambda item: print(summary_line(item), file=out,
                                                          flush=True))
    print(f"listening for Alertmanager notifications on http://{host}:{sink.port}/",
          file=out, flush=True)
    try:
        sink.server.serve_forever()
    finally:
        sink.server.server_close()
