"""``python -m stand_ins.stripe --invoices N --seed S --port P``: serve a generated account until stopped."""

from __future__ import annotations

import argparse
from typing import Any

from ..common import serve_until_interrupted
from .config import AccountConfig
from .generator import generate_account
from .server import StripeStandIn


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m stand_ins.stripe", description=__doc__)
    parser.add_argument("--invoices", type=int, default=1_000, help="about this many live invoices up to now")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--port", type=int, default=0, help="0 = any free port")
    parser.add_argument("--now", type=int, default=None, help="simulated clock (unix seconds)")
    parser.add_argument(
        "--history-days", type=int, default=None, help="days of history before now (fewer = busier hours)"
    )
    parser.add_argument(
        "--horizon-days", type=int, default=None, help="days generated after now (how far the clock can move)"
    )
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument(
        "--api-version",
        default=None,
        help="the account's default API version, for all its events (2017-08-15: never upgraded)",
    )
    parser.add_argument(
        "--endpoint-rate-limit",
        type=float,
        default=None,
        help="enforce Stripe's per-endpoint limit, requests/s (Stripe's default is 25; default here: off)",
    )
    parser.add_argument(
        "--connected-accounts",
        type=int,
        default=0,
        help="give the platform this many Stripe Connect accounts (each generated on first use)",
    )
    parser.add_argument(
        "--connected-invoices",
        type=int,
        default=None,
        help="about this many live invoices in each connected account (default: --invoices)",
    )
    args = parser.parse_args(argv)
    overrides: dict[str, Any] = {}
    if args.api_version is not None:
        overrides["api_version"] = args.api_version
        overrides["legacy_event_share"] = 0.0
    if args.now is not None:
        overrides["now"] = args.now
    if args.history_days is not None:
        overrides["history_days"] = args.history_days
    if args.horizon_days is not None:
        overrides["horizon_days"] = args.horizon_days
    cfg = AccountConfig(seed=args.seed, invoices=args.invoices, **overrides)
    server = StripeStandIn(
        generate_account(cfg), port=args.port, endpoint_rate_limit=args.endpoint_rate_limit
    )
    server.latency_seconds = args.latency_ms / 1000
    if args.connected_accounts:
        server.connect(args.connected_accounts, args.connected_invoices)
    serve_until_interrupted(server, "Stripe stand-in")


if __name__ == "__main__":
    main()
