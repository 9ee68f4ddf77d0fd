"""Stripe requests per connected account: a first run and an hourly run of a Connect platform.

``python -m benchmarks.bench_connect --accounts 20 --invoices 250`` starts the Stripe stand-in with a
platform of N connected accounts of M invoices each, runs ``tap-stripe-billing`` (all four streams,
``all_connected_accounts: true``, whole history) as a process, moves Stripe's clock an hour, runs it
again with the state it wrote, and prints the requests each account received (counted by the stand-in by
``Stripe-Account``) and those made for the platform itself (``GET /v1/accounts``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from stand_ins.stripe import LIVE_KEY, AccountConfig, StripeStandIn, generate_account

TAP = Path(sys.executable).parent / "tap-stripe-billing"


def run_tap(
    config: dict[str, Any], state: dict[str, Any] | None, workdir: Path
) -> tuple[dict[str, Any], float]:
    """One run of the tap as a process; the last STATE it wrote and the wall time."""
    (workdir / "config.json").write_text(json.dumps(config))
    args = [str(TAP), "--config", str(workdir / "config.json")]
    if state is not None:
        (workdir / "state.json").write_text(json.dumps(state))
        args += ["--state", str(workdir / "state.json")]
    started = time.perf_counter()
    out = subprocess.run(args, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - started
    states = [json.loads(line)["value"] for line in out.stdout.splitlines() if '"type":"STATE"' in line]
    return states[-1], wall


def per_account(server: StripeStandIn) -> dict[str, int]:
    counts = {account: server.account_stats.get(account, 0) for account in server.platform.accounts}
    endpoints = sorted(server.stats().items(), key=lambda item: -item[1])
    print("  by endpoint, all accounts:", ", ".join(f"{name} {count}" for name, count in endpoints))
    server.reset_stats()
    return counts


def describe(name: str, counts: dict[str, int], platform: int, wall: float) -> str:
    values = list(counts.values())
    return (
        f"{name}: {statistics.mean(values):.1f} requests per account (min {min(values)}, max {max(values)},"
        f" {len(values)} accounts), {platform} for the platform (GET /v1/accounts), {wall:.1f} s"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_connect", description=__doc__)
    parser.add_argument("--accounts", type=int, default=20)
    parser.add_argument("--invoices", type=int, default=250)
    args = parser.parse_args(argv)
    platform = generate_account(AccountConfig(seed=5, invoices=20))
    with StripeStandIn(platform) as server, tempfile.TemporaryDirectory() as tmp:
        server.connect(args.accounts, args.invoices)
        config = {
            "api_key": LIVE_KEY,
            "api_url": server.url,
            "all_connected_accounts": True,
            "max_requests_per_second": 1000,
            "max_requests_per_second_per_endpoint": 1000,
        }
        server.reset_stats()
        state, wall = run_tap(config, None, Path(tmp))
        listed = server.stats().get("GET /v1/accounts", 0)
        print(describe("first run", per_account(server), listed, wall))
        server.account.advance(hours=1)
        state, wall = run_tap(config, state, Path(tmp))
        listed = server.stats().get("GET /v1/accounts", 0)
        print(describe("hourly run", per_account(server), listed, wall))


if __name__ == "__main__":
    main()
