"""The main job, end to end, on this machine: two hourly `meltano run`s against the local stand-ins.

Starts the Stripe and KISSmetrics stand-ins, runs `meltano run stripe-to-kissmetrics`, advances Stripe's
clock by an hour (new renewals, late events, old invoices finally paid), runs again, and prints what
KISSmetrics received. Run it through `scripts/demo.sh`, which installs everything first.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path
from typing import Any

from local_pipeline import LocalPipeline
from stand_ins.processes import REPO_ROOT


def _last_lines(text: str, count: int) -> str:
    return "\n".join("    " + line for line in text.strip().splitlines()[-count:])


def _print_summary(title: str, summary: dict[str, Any]) -> None:
    print(f"\n== {title}")
    people, events = summary.get("people", 0), summary.get("events", 0)
    print(f"   people: {people}   events shown on the dashboard: {events}")
    for name, count in sorted(summary.get("events_by_name", {}).items()):
        print(f"   {count:>6}  {name}")
    revenue = summary.get("revenue_by_month", {})
    if revenue:
        print("   revenue by month (Billing Amount, per currency):")
        for month, by_currency in sorted(revenue.items()):
            amounts = ", ".join(f"{amount} {currency}" for currency, amount in sorted(by_currency.items()))
            print(f"     {month}: {amounts}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--invoices", type=int, default=8000, help="size of the generated Stripe account")
    parser.add_argument("--history-days", type=int, default=30, help="days of Stripe history before now")
    parser.add_argument("--hours", type=float, default=1.0, help="time advanced between the two runs")
    args = parser.parse_args()

    workdir = REPO_ROOT / ".demo"
    shutil.rmtree(workdir, ignore_errors=True)
    with LocalPipeline(invoices=args.invoices, workdir=workdir, history_days=args.history_days) as pipeline:
        print(f"Stripe stand-in:      {pipeline.stripe.url}  ({args.invoices} invoices generated)")
        print(f"KISSmetrics stand-in: {pipeline.kissmetrics.url}")
        shown_after_first = 0
        for run in (1, 2):
            if run == 2:
                clock = pipeline.advance_hours(args.hours)
                print(f"\n-- Stripe clock advanced {args.hours:g} h: {clock}")
            print(f"\n-- run {run}: meltano run stripe-to-kissmetrics")
            result = pipeline.meltano_run()
            print(_last_lines(result.stderr, 6))
            if result.returncode != 0:
                print(f"run {run} failed with exit code {result.returncode}", file=sys.stderr)
                return result.returncode
            summary = pipeline.summary()
            _print_summary(f"KISSmetrics after run {run}", summary)
            if run == 2:
                new = summary.get("events", 0) - shown_after_first
                print(f"\n   run 2 added {new} events: the payments of the last hour and nothing twice")
            shown_after_first = summary.get("events", 0)
        print(f"\nMeltano state, journal and logs of this demo: {Path(workdir).relative_to(REPO_ROOT)}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
