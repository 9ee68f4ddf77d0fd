"""What both local stand-ins share: a loopback-only threaded HTTP server, latency and fault injection.

The stand-ins are test and demo fixtures, not products: they bind to 127.0.0.1 only, keep everything in
memory, and are started and stopped by the tests, the demo and the benchmarks themselves.
"""

from __future__ import annotations

import json
import random
import signal
import socket
import struct
import threading
import time
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

LOOPBACK = "127.0.0.1"


class FaultPlan:
    """Decides, request by request, whether to inject a fault and which.

    Two ways to ask for faults, usable together:
    - ``rates``: fault name -> probability per request (seeded, so a run is repeatable);
    - ``schedule``: request number (1-based, counted by this plan) -> fault name.
    Only requests whose path starts with one of ``path_prefixes`` are counted and faulted.
    """

    def __init__(self, seed: int = 0) -> None:
        self._lock = threading.Lock()
        self._random = random.Random(seed)
        self.rates: dict[str, float] = {}
        self.schedule: dict[int, str] = {}
        self.path_prefixes: tuple[str, ...] = ("/",)
        self.counted = 0
        self.injected: dict[str, int] = {}

    def configure(
        self,
        rates: dict[str, float] | None = None,
        schedule: dict[int, str] | None = None,
        path_prefixes: Iterable[str] | None = None,
        seed: int | None = None,
    ) -> None:
        with self._lock:
            self.rates = dict(rates or {})
            self.schedule = {int(k): v for k, v in (schedule or {}).items()}
            self.path_prefixes = tuple(path_prefixes or ("/",))
            self.counted = 0
            self.injected = {}
            if seed is not None:
                self._random = random.Random(seed)

    def clear(self) -> None:
        self.configure()

    def next(self, path: str) -> str | None:
        """The fault to inject into this request, or None."""
        if not path.startswith(self.path_prefixes):
            return None
        with self._lock:
            self.counted += 1
            fault = self.schedule.get(self.counted)
            if fault is None and self.rates:
                roll = self._random.random()
                edge = 0.0
                for name, rate in sorted(self.rates.items()):
                    edge += rate
                    if roll < edge:
                        fault = name
                        break
            if fault is not None:
                self.injected[fault] = self.injected.get(fault, 0) + 1
            return fault

    def describe(self) -> dict[str, Any]:
        with self._lock:
            return {
                "rates": dict(self.rates),
                "schedule": {str(k): v for k, v in self.schedule.items()},
                "path_prefixes": list(self.path_prefixes),
                "counted": self.counted,
                "injected": dict(self.injected),
            }


class StandInHandler(BaseHTTPRequestHandler):
    """Base request handler: HTTP/1.1 keep-alive, Nagle off, whole responses in one write."""

    protocol_version = "HTTP/1.1"
    # Without this every keep-alive response stalls ~44 ms (Nagle + delayed ACK): see REFERENCE.md.
    disable_nagle_algorithm = True
    server: StandInServer

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: requests can carry keys, and tests read stderr."""

    # -- request helpers -------------------------------------------------------------------------
    def split_path(self) -> tuple[str, list[tuple[str, str]]]:
        """Path and query parameters, in order, blanks kept."""
        parts = urlsplit(self.path)
        return parts.path, parse_qsl(parts.query, keep_blank_values=True)

    def read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    # -- response helpers ------------------------------------------------------------------------
    def send_bytes(
        self,
        status: int,
        body: bytes,
        content_type: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        head = [f"HTTP/1.1 {status} {self.responses.get(status, ('',))[0]}"]
        head.append(f"Content-Type: {content_type}")
        head.append(f"Content-Length: {len(body)}")
        for name, value in (headers or {}).items():
            head.append(f"{name}: {value}")
        if self.close_connection:
            head.append("Connection: close")
        data = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body
        self.wfile.write(data)
        self.wfile.flush()

    def send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        body = json.dumps(payload, separators=(",", ":")).encode()
        self.send_bytes(status, body, "application/json", headers)

    def reset_connection(self) -> None:
        """Drop the connection with a TCP RST, as a crashed proxy would."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass

    def sleep_latency(self) -> None:
        latency = self.server.latency_seconds
        if latency > 0:
            time.sleep(latency)


class StandInServer(ThreadingHTTPServer):
    """A ThreadingHTTPServer bound to 127.0.0.1, run in a background thread."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, handler: type[StandInHandler], port: int = 0, seed: int = 0) -> None:
        super().__init__((LOOPBACK, port), handler)
        self.latency_seconds = 0.0
        self.faults = FaultPlan(seed)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> str:
        self._thread = threading.Thread(target=self.serve_forever, name=type(self).__name__, daemon=True)
        self._thread.start()
        return self.url

    def stop(self) -> None:
        if self._thread is not None:
            self.shutdown()
            self._thread.join(timeout=10)
            self._thread = None
        self.server_close()

    def __enter__(self) -> StandInServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_until_interrupted(server: StandInServer, banner: str) -> None:
    """For the stand-ins' command lines: serve in the foreground until Ctrl-C or SIGTERM."""

    def _terminate(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _terminate)
    print(f"{banner} listening on {server.url}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
