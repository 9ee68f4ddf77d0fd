"""Stripe requests each lifecycle stream costs, first run and hourly runs, against a generated account.

    .venv/bin/python -m scripts.lifecycle_requests --invoices 10000 --hours 24 [--api-version 2017-08-15]

Prints, per stream and run, the records emitted (and the oracle's count) and the requests by endpoint,
then Stripe requests per 1,000 billed invoices (first run, hourly runs). ``--api-version`` makes the
account's default API version (all its events) an older one: an account that never upgraded.
"""

from __future__ import annotations

import argparse
import io
import json
from contextlib import redirect_stderr, redirect_stdout
from typing import Any

from tap_stripe_billing.lifecycle_streams import EVENT_RETENTION, RETENTION_MARGIN
from tap_stripe_billing.tap import TapStripeBilling

from stand_ins.stripe import (
    LIVE_KEY,
    AccountConfig,
    StripeStandIn,
    expected_billed,
    expected_cancellations,
    expected_changes,
    expected_refunds,
    generate_account,
)

STREAMS = ("subscription_billed", "subscription_changed", "subscription_canceled", "subscription_refunded")


def run(config: dict[str, Any], state: dict[str, Any] | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """One run of all four streams: (records per stream, summaries), and the final state."""
    tap = TapStripeBilling(config=config, state=state or {})
    out = io.StringIO()
    with redirect_stdout(out), redirect_stderr(io.StringIO()):
        tap.sync_all()
    counts = dict.fromkeys(STREAMS, 0)
    last_state: dict[str, Any] = {}
    for line in out.getvalue().splitlines():
        message = json.loads(line)
        if message["type"] == "RECORD":
            counts[message["stream"]] += 1
        elif message["type"] == "STATE":
            last_state = message["value"]
    summaries = {s: getattr(tap.streams[s], "summary", {}) for s in STREAMS}
    return {"records": counts, "summaries": summaries}, last_state


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--invoices", type=int, default=10_000)
    parser.add_argument("--history-days", type=int, default=400)
    parser.add_argument("--hours", type=int, default=24)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--api-version", default=None, help="the account's default API version")
    args = parser.parse_args()
    versions: dict[str, Any] = {}
    if args.api_version:
        versions = {"api_version": args.api_version, "legacy_event_share": 0.0}
    account = generate_account(
        AccountConfig(
            seed=args.seed,
            invoices=args.invoices,
            history_days=args.history_days,
            horizon_days=3,
            **versions,
        )
    )
    with StripeStandIn(account, port=0) as server:
        config = {
            "api_key": LIVE_KEY,
            "api_url": server.url,
            "max_requests_per_second": 1000,
            "max_requests_per_second_per_endpoint": 1000,
        }
        retained_from = account.now - EVENT_RETENTION + RETENTION_MARGIN
        first, state = run(config, None)
        totals = {s: dict.fromkeys(("records", "requests", "fetches"), 0) for s in STREAMS}
        for _ in range(args.hours):
            account.advance(hours=1)
            result, state = run(config, state)
            for s in STREAMS:
                totals[s]["records"] += result["records"][s]
                totals[s]["requests"] += sum(result["summaries"][s]["requests"].values())
                totals[s]["fetches"] += sum(result["summaries"][s]["payload_fetches"].values())
        upper = account.now - 300
        truth = {
            "subscription_billed": len(expected_billed(account, upper)),
            "subscription_changed": len(expected_changes(account, upper, retained_from=retained_from)),
            "subscription_canceled": len(expected_cancellations(account, upper)),
            "subscription_refunded": len(expected_refunds(account, upper)),
        }
        print(f"account: {args.invoices} invoices, {args.history_days} days; {args.hours} hourly runs")
        print(f"{'stream':24} {'truth':>6} {'emitted':>8} | first run: records requests by endpoint")
        for s in STREAMS:
            emitted = first["records"][s] + totals[s]["records"]
            reqs = first["summaries"][s]["requests"]
            print(f"{s:24} {truth[s]:6} {emitted:8} | {first['records'][s]:6} {sum(reqs.values()):5} {reqs}")
        print("hourly runs (sum over all): records, requests, requests per run")
        for s in STREAMS:
            t = totals[s]
            print(f"  {s:24} {t['records']:6} {t['requests']:6} {t['requests'] / max(args.hours, 1):6.2f}")
        version = args.api_version or account.config.api_version
        print(f"requests per 1,000 billed invoices (events in API version {version}):")
        first_billed = max(first["records"]["subscription_billed"], 1)
        hourly_billed = max(totals["subscription_billed"]["records"], 1)
        for label, billed, per_stream, fetches in (
            (
                "first run",
                first_billed,
                {s: sum(first["summaries"][s]["requests"].values()) for s in STREAMS},
                {s: sum(first["summaries"][s]["payload_fetches"].values()) for s in STREAMS},
            ),
            (
                "hourly",
                hourly_billed,
                {s: totals[s]["requests"] for s in STREAMS},
                {s: totals[s]["fetches"] for s in STREAMS},
            ),
        ):
            own = 1000 * per_stream["subscription_billed"] / billed
            every = 1000 * sum(per_stream.values()) / billed
            completed = 1000 * sum(fetches.values()) / billed
            print(
                f"  {label:10} billed stream {own:7.1f}  all four streams {every:7.1f}"
                f"  (of which pinned fetches completing old payloads {completed:6.1f}; {billed} billed)"
            )


if __name__ == "__main__":
    main()
