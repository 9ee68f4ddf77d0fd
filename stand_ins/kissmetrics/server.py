"""A loopback stand-in for the KISSmetrics tracking API (``/e``, ``/s``, ``/a``).

Like the real service it answers every tracking request with ``200`` and a 1x1 GIF, whatever it
contains. Unlike the real service it remembers everything, so tests can look at exactly what a client
sent (:attr:`KissmetricsStandIn.requests`), at what the KISSmetrics dashboard would show after its
de-duplication (:meth:`KissmetricsStandIn.dashboard`) and at every rule the client broke
(:meth:`KissmetricsStandIn.violations`).
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from stand_ins.common import StandInHandler, StandInServer

# The transparent 1x1 GIF the tracking endpoints answer with.
PIXEL_GIF = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00"
    b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)
TRACKING_PATHS = ("/e", "/s", "/a")
RESERVED = ("_k", "_p", "_n", "_t", "_d")
REQUIRED = {"/e": ("_k", "_p", "_n"), "/s": ("_k", "_p"), "/a": ("_k", "_p", "_n")}
MAX_NAME_CHARS = 255  # names must be shorter than this
MAX_VALUE_CHARS = 512  # values may be up to this long
EARLIEST_UNIX = 1230768000  # 2009-01-01T00:00:00Z: KISSmetrics stores nothing older


@dataclass(frozen=True)
class RecordedRequest:
    """One tracking request as the stand-in received it."""

    path: str
    method: str
    params: list[tuple[str, str]]
    raw_query: str
    received_at: float
    user_agent: str = ""

    def first(self, name: str) -> str | None:
        for key, value in self.params:
            if key == name:
                return value
        return None

    def properties(self) -> list[tuple[str, str]]:
        return [(k, v) for k, v in self.params if k not in RESERVED]


@dataclass
class DashboardEvent:
    """An event as the KISSmetrics dashboard would count it."""

    person: str
    event: str
    timestamp: int
    properties: dict[str, str] = field(default_factory=dict)


def _clean_identity(value: str) -> str:
    # KISSmetrics turns ``,`` and ``:`` in ``_p``/``_n`` into spaces.
    return value.replace(",", " ").replace(":", " ")


class KissmetricsStandIn(StandInServer):
    """In-memory KISSmetrics tracking endpoint bound to 127.0.0.1."""

    def __init__(self, port: int = 0, api_key: str | None = None, seed: int = 0) -> None:
        super().__init__(KissmetricsHandler, port=port, seed=seed)
        self.api_key = api_key
        self.slow_seconds = 2.0
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self.dropped = 0

    # -- recording -------------------------------------------------------------------------------
    def record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def note_drop(self) -> None:
        with self._lock:
            self.dropped += 1

    @property
    def request_count(self) -> int:
        with self._lock:
            return len(self._requests)

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def reset(self) -> None:
        with self._lock:
            self._requests = []
            self.dropped = 0
        self.faults.clear()
        self.latency_seconds = 0.0

    # -- views -----------------------------------------------------------------------------------
    def dashboard(self) -> list[DashboardEvent]:
        """The events the dashboard shows: repeats of person, event, ``_t`` and properties count once."""
        seen: set[tuple[Any, ...]] = set()
        events: list[DashboardEvent] = []
        for request in self.requests:
            if request.path != "/e":
                continue
            person, name = request.first("_p"), request.first("_n")
            if not person or not name or (self.api_key is not None and request.first("_k") != self.api_key):
                continue
            raw_t = request.first("_t")
            timestamp = int(request.received_at)
            if raw_t is not None and request.first("_d") == "1":
                with contextlib.suppress(ValueError):
                    timestamp = int(raw_t)
            if timestamp < EARLIEST_UNIX:
                continue
            props = tuple(sorted(request.properties()))
            key = (_clean_identity(person), _clean_identity(name), timestamp, props)
            if key in seen:
                continue
            seen.add(key)
            events.append(DashboardEvent(key[0], key[1], timestamp, dict(props)))
        return events

    def violations(self) -> list[dict[str, Any]]:
        """Every tracking rule each recorded request broke (index into :attr:`requests`)."""
        found: list[dict[str, Any]] = []
        for index, request in enumerate(self.requests):
            for problem in self._problems(request):
                found.append({"index": index, "path": request.path, "problem": problem})
        return found

    def _problems(self, request: RecordedRequest) -> list[str]:
        problems: list[str] = []
        names = [k for k, _ in request.params]
        for required in REQUIRED.get(request.path, ()):
            if not request.first(required):
                problems.append(f"missing {required}")
        key = request.first("_k")
        if self.api_key is not None and key is not None and key != self.api_key:
            problems.append("wrong _k")
        if request.first("_t") is not None and request.first("_d") != "1":
            problems.append("_t without _d=1 is ignored")
        raw_t = request.first("_t")
        if raw_t is not None:
            try:
                if int(raw_t) < EARLIEST_UNIX:
                    problems.append("_t before 2009 is not stored")
            except ValueError:
                problems.append("_t is not unix seconds")
        for name, count in Counter(names).items():
            if name in RESERVED and count > 1:
                problems.append(f"reserved property name {name} (given {count} times)")
        for name, value in request.params:
            if len(name) >= MAX_NAME_CHARS:
                problems.append(f"property name of {len(name)} characters")
            if len(value) > MAX_VALUE_CHARS:
                problems.append(f"value of {name[:40]} has {len(value)} characters")
        for name in ("_p", "_n"):
            found = request.first(name)
            if found is not None and ("," in found or ":" in found):
                problems.append(f"',' or ':' in {name}")
        return problems

    def summary(self) -> dict[str, Any]:
        """People, events by name and revenue by month and currency (``Billing Amount`` in
        ``Subscription Billing Currency``), after de-duplication."""
        events = self.dashboard()
        revenue: dict[str, dict[str, Decimal]] = {}
        for event in events:
            amount = event.properties.get("Billing Amount")
            if amount is None:
                continue
            try:
                value = Decimal(amount)
            except InvalidOperation:
                continue
            month = datetime.fromtimestamp(event.timestamp, tz=timezone.utc).strftime("%Y-%m")
            currency = event.properties.get("Subscription Billing Currency", "?")
            by_currency = revenue.setdefault(month, {})
            by_currency[currency] = by_currency.get(currency, Decimal(0)) + value
        return {
            "requests": len(self.requests),
            "events": len(events),
            "people": len({e.person for e in events}),
            "events_by_name": dict(sorted(Counter(e.event for e in events).items())),
            "revenue_by_month": {
                month: {currency: str(total) for currency, total in sorted(by_currency.items())}
                for month, by_currency in sorted(revenue.items())
            },
        }


class KissmetricsHandler(StandInHandler):
    server: KissmetricsStandIn

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if parts.path.startswith("/_standin/"):
            self._control("GET", parts.path, b"")
            return
        self._track("GET", parts.path, parts.query)

    def do_POST(self) -> None:
        parts = urlsplit(self.path)
        body = self.read_body()
        if parts.path.startswith("/_standin/"):
            self._control("POST", parts.path, body)
            return
        query = body.decode("utf-8", errors="replace")
        if parts.query:
            query = f"{parts.query}&{query}" if query else parts.query
        self._track("POST", parts.path, query)

    def _track(self, method: str, path: str, query: str) -> None:
        if path not in TRACKING_PATHS:
            self.send_bytes(404, b"not found", "text/plain")
            return
        fault = self.server.faults.next(path)
        if fault == "drop":
            self.server.note_drop()
            self.reset_connection()
            return
        self.sleep_latency()
        if fault == "503":
            self.send_bytes(503, b"Service Unavailable", "text/plain")
            return
        if fault == "slow":
            time.sleep(self.server.slow_seconds)
        params = parse_qsl(query, keep_blank_values=True, encoding="utf-8", errors="replace")
        agent = self.headers.get("User-Agent", "")
        self.server.record(RecordedRequest(path, method, params, query, time.time(), agent))
        self.send_bytes(200, PIXEL_GIF, "image/gif", {"Cache-Control": "no-cache"})

    def _control(self, method: str, path: str, body: bytes) -> None:
        server = self.server
        name = path.removeprefix("/_standin/")
        try:
            payload: dict[str, Any] = json.loads(body) if body else {}
        except ValueError:
            self.send_json(400, {"error": "body is not JSON"})
            return
        if method == "GET" and name == "requests":
            self.send_json(200, [asdict(r) for r in server.requests])
        elif method == "GET" and name == "count":
            self.send_json(200, {"requests": server.request_count, "dropped": server.dropped})
        elif method == "GET" and name == "dashboard":
            self.send_json(200, [asdict(e) for e in server.dashboard()])
        elif method == "GET" and name == "violations":
            self.send_json(200, server.violations())
        elif method == "GET" and name == "summary":
            self.send_json(200, server.summary())
        elif method == "POST" and name == "reset":
            server.reset()
            self.send_json(200, {"ok": True})
        elif method == "POST" and name == "latency":
            server.latency_seconds = float(payload.get("ms", 0)) / 1000.0
            self.send_json(200, {"latency_ms": server.latency_seconds * 1000.0})
        elif method == "POST" and name == "faults":
            server.faults.configure(
                rates=payload.get("rates"), schedule=payload.get("schedule"), seed=payload.get("seed")
            )
            if "slow_seconds" in payload:
                server.slow_seconds = float(payload["slow_seconds"])
            self.send_json(200, server.faults.describe())
        else:
            self.send_json(404, {"error": f"no control endpoint {method} {path}"})
