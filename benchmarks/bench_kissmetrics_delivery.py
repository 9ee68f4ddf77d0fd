"""KISSmetrics events delivered per second against the stand-in with 50 ms latency.

Measures, in one run and against one stand-in:
- baseline: one request at a time with ``urllib.request`` (what the official py-KISSmetrics client does);
- target-kissmetrics' transport at its default concurrency (16), and at 64 for reference.

    .venv/bin/python benchmarks/bench_kissmetrics_delivery.py [--latency-ms 50] [--events 800]
"""

from __future__ import annotations

import argparse
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root, for stand_ins

from target_kissmetrics.events import EventBuilder
from target_kissmetrics.mapping import resolve_mappings
from target_kissmetrics.transport import Transport

from stand_ins.kissmetrics import KissmetricsStandIn

KEY = "benchkey"


def build_queries(count: int) -> list[str]:
    builder = EventBuilder(
        resolve_mappings(None)["subscription_billed"], lowercase_identity=True, use_fallback=False
    )
    return [
        builder.build(
            {
                "invoice_id": f"in_{i}",
                "paid_at": "2024-03-01T12:00:00Z",
                "customer_email": f"user{i}@example.com",
                "amount": "49.90",
                "currency": "usd",
                "billing_length_months": 1,
                "plan_level": "Pro",
            }
        ).query
        for i in range(count)
    ]


def baseline(url: str, queries: list[str]) -> float:
    started = time.perf_counter()
    prefix = f"{url}/e?_k={quote(KEY, safe='')}&"
    for query in queries:
        with urllib.request.urlopen(prefix + query, timeout=15) as response:
            response.read()
    return len(queries) / (time.perf_counter() - started)


def target_transport(url: str, queries: list[str], concurrency: int) -> float:
    transport = Transport(url, KEY, max_concurrency=concurrency)
    try:
        started = time.perf_counter()
        report = transport.deliver(queries)
        elapsed = time.perf_counter() - started
    finally:
        transport.close()
    assert len(report.delivered) == len(queries), report.first_error
    return len(queries) / elapsed


def run(quick: bool, latency_ms: float = 50.0) -> Any:
    """For the suite (``benchmarks/run.py``): the delivery rate next to the one-at-a-time baseline."""
    from benchmarks.harness import Row, Section

    events, baseline_events = (400, 40) if quick else (1600, 100)
    queries = build_queries(events)
    with KissmetricsStandIn(api_key=KEY) as server:
        server.latency_seconds = latency_ms / 1000.0
        base = baseline(server.url, queries[:baseline_events])
        default = target_transport(server.url, queries, 16)
    section = Section()
    section.rows.append(
        Row(
            f"KISSmetrics events/s at {latency_ms:.0f} ms latency (max_concurrency 16)",
            default,
            base,
            "one at a time, py-KISSmetrics style",
            "ev/s",
            ">= 12x",
            default / base >= 12,
            better="higher",
        )
    )
    return section


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--events", type=int, default=800, help="events for the concurrent runs")
    parser.add_argument("--baseline-events", type=int, default=60)
    args = parser.parse_args()
    queries = build_queries(args.events)
    with KissmetricsStandIn(api_key=KEY) as server:
        server.latency_seconds = args.latency_ms / 1000.0
        base = baseline(server.url, queries[: args.baseline_events])
        default = target_transport(server.url, queries, 16)
        wide = target_transport(server.url, queries, 64)
        dashboard = len(server.dashboard())
    print(f"stand-in latency: {args.latency_ms:.0f} ms per request")
    print(f"baseline, one at a time (urllib.request): {base:8.1f} events/s")
    print(f"target transport, 16 in flight (default): {default:8.1f} events/s  ({default / base:.1f}x)")
    print(f"target transport, 64 in flight:           {wide:8.1f} events/s  ({wide / base:.1f}x)")
    print(f"dashboard events after de-duplication: {dashboard} (distinct events sent: {args.events})")


if __name__ == "__main__":
    main()
