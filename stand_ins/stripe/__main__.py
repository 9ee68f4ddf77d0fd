"""``python -m stand_ins.stripe --invoices N --seed S --port P``: serve a generated account until stopped."""

from __future__ import annotations

import argparse
import dataclasses

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
        "--endpoint-rate-limit",
        type=float,
        default=None,
        help="enforce Stripe's per-endpoint limit, requests/s (Stripe's default is 25; default here: off)",
    )
    args = parser.parse_args(argv)
    cfg = AccountConfig(seed=args.seed, invoices=args.invoices)
    if args.now is not None:
        cfg = dataclasses.replace(cfg, now=args.now)
    if args.history_days is not None:
        cfg = dataclasses.replace(cfg, history_days=args.history_days)
    if args.horizon_days is not None:
        cfg = dataclasses.replace(cfg, horizon_days=args.horizon_days)
    server = StripeStandIn(
        generate_account(cfg), port=args.port, endpoint_rate_limit=args.endpoint_rate_limit
    )
    server.latency_seconds = args.latency_ms / 1000
    serve_until_interrupted(server, "Stripe stand-in")


if __name__ == "__main__":
    main()
