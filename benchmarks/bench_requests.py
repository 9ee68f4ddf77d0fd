"""Stripe requests per 1,000 billed invoices: first run, a realistic hour, and a >= 1,000-invoice events run.

Ours (``tap-stripe-billing``) and the baseline (singer-io ``tap-stripe`` 3.3.0 in its own venv, streams
``invoices`` + ``invoice_line_items``, through ``tap_stripe_shim.py``) read the same generated account on
one Stripe stand-in; requests are counted by the stand-in (``/_standin/stats``), per endpoint. "Billed"
is the stand-in's ground truth (``expected_billed``) for the window each run covers.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from pathlib import Path
from typing import Any

from benchmarks.harness import (
    ROOT,
    Row,
    Section,
    Stripe,
    last_state,
    run_tap,
    tap_config,
    temp_dir,
    write_json,
)
from stand_ins.stripe import LIVE_KEY

BASELINE_PY = ROOT / "benchmarks" / ".venvs" / "tap-stripe" / "bin" / "python"
SHIM = ROOT / "benchmarks" / "tap_stripe_shim.py"
HOUR = 3600
LAG = 300  # the tap's default lag_minutes


class TapStripe:
    """singer-io tap-stripe against the stand-in: discovery once, then runs with state."""

    def __init__(self, stripe: Stripe, workdir: Path, start: int) -> None:
        self.stripe = stripe
        self.dir = workdir
        iso = f"{dt.datetime.fromtimestamp(start, tz=dt.timezone.utc):%Y-%m-%dT%H:%M:%SZ}"
        config = {"client_secret": LIVE_KEY, "account_id": "acct_standin", "start_date": iso}
        self.config = write_json(workdir, "ts-config.json", config)
        found = self._run(["--discover"])
        catalog = json.loads(found)
        for stream in catalog["streams"]:
            chosen = stream["tap_stream_id"] in ("invoices", "invoice_line_items")
            for entry in stream["metadata"]:
                if entry["breadcrumb"] == []:
                    entry["metadata"]["selected"] = chosen
        self.catalog = write_json(workdir, "ts-catalog.json", catalog)
        self.state: dict[str, Any] = {}

    def _run(self, args: list[str]) -> bytes:
        argv = [str(BASELINE_PY), str(SHIM), self.stripe.url, "--config", self.config, *args]
        done = subprocess.run(argv, capture_output=True, check=False, cwd=ROOT, timeout=1800)
        if done.returncode != 0:
            raise RuntimeError(f"tap-stripe failed: {done.stderr.decode(errors='replace')[-1500:]}")
        return done.stdout

    def sync(self) -> None:
        args = ["--catalog", self.catalog]
        if self.state:
            args += ["--state", write_json(self.dir, "ts-state.json", self.state)]
        self.state = last_state(self._run(args)) or self.state


def _count(stripe: Stripe) -> tuple[int, dict[str, int]]:
    stats = stripe.stats()
    return sum(stats.values()), stats


def per_1000(requests: int, billed: int) -> float:
    return 1000.0 * requests / billed if billed else float("nan")


def run(quick: bool) -> Section:
    invoices, history = (4000, 60) if quick else (12000, 60)
    hours = 6 if quick else 24
    window_days = 10
    section = Section()
    baseline_ok = BASELINE_PY.exists()
    with Stripe(invoices, history_days=history) as stripe, temp_dir() as tmp:
        work = Path(tmp)
        start = stripe.now()
        first_from = start - (history + 1) * 86_400
        billed_first = len(stripe.billed(None, start - LAG))
        # -- ours ------------------------------------------------------------------------------
        stripe.reset()
        state = last_state(run_tap(work, tap_config(stripe)).stdout)
        ours_first, ours_first_by = _count(stripe)
        hour_requests: list[int] = []
        hour_billed: list[int] = []
        for _ in range(hours):
            before = stripe.now()
            stripe.control("advance", {"hours": 1})
            stripe.reset()
            state = last_state(run_tap(work, tap_config(stripe), state).stdout)
            hour_requests.append(_count(stripe)[0])
            hour_billed.append(len(stripe.billed(before - LAG, stripe.now() - LAG)))
        before = stripe.now()
        stripe.control("advance", {"days": window_days})
        stripe.reset()
        run_tap(work, tap_config(stripe), state)
        ours_window, ours_window_by = _count(stripe)
        billed_window = len(stripe.billed(before - LAG, stripe.now() - LAG))
        # -- baseline on the same account, same clock path --------------------------------------
        base_first = base_hour = base_window = None
        base_first_by: dict[str, int] = {}
        base_window_by: dict[str, int] = {}
        if baseline_ok:
            stripe.control("clock", {"now": start})
            baseline = TapStripe(stripe, work, first_from)
            stripe.reset()
            baseline.sync()
            base_first, base_first_by = _count(stripe)
            base_hours = []
            for _ in range(hours):
                stripe.control("advance", {"hours": 1})
                stripe.reset()
                baseline.sync()
                base_hours.append(_count(stripe)[0])
            stripe.control("advance", {"days": window_days})
            stripe.reset()
            baseline.sync()
            base_window, base_window_by = _count(stripe)
            base_hour = sum(base_hours) / len(base_hours)
    hour_mean = sum(hour_requests) / len(hour_requests)
    billed_hour = sum(hour_billed) / len(hour_billed)
    name = "singer-io tap-stripe 3.3.0" if baseline_ok else "baseline not installed"
    goal = "<= 15"
    first = per_1000(ours_first, billed_first)
    window = per_1000(ours_window, billed_window)
    section.rows += [
        Row(
            f"Stripe requests / 1,000 billed, first run ({billed_first:,} billed)",
            first,
            None if base_first is None else per_1000(base_first, billed_first),
            name,
            "req",
            goal,
            first <= 15,
        ),
        Row(
            f"Stripe requests / 1,000 billed, events run over {window_days} days ({billed_window:,} billed)",
            window,
            None if base_window is None else per_1000(base_window, billed_window),
            name,
            "req",
            goal,
            window <= 15,
        ),
        Row(
            f"Stripe requests per hourly run (mean of {hours} hours, {billed_hour:.1f} billed/hour)",
            hour_mean,
            base_hour,
            name,
            "req",
            "",
            None,
        ),
    ]
    section.details += [
        f"first run, ours: {ours_first_by}",
        f"first run, baseline: {base_first_by}",
        f"events run, ours: {ours_window_by}",
        f"events run, baseline: {base_window_by}",
        f"hourly runs, ours: {hour_requests} (billed per hour: {hour_billed})",
    ]
    return section
