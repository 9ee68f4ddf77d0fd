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
from dataclasses import dataclass, field
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


@dataclass
class Sequence:
    """One tap's requests over the same clock path: a first run, N hourly runs, one events-mode run
    over ``window_days`` (state carried over)."""

    first: int = 0
    first_by: dict[str, int] = field(default_factory=dict)
    hours: list[int] = field(default_factory=list)
    hour_billed: list[int] = field(default_factory=list)
    window: int = 0
    window_by: dict[str, int] = field(default_factory=dict)
    billed_window: int = 0
    state_bytes: dict[str, int] = field(default_factory=dict)
    price_bytes: dict[str, float] = field(default_factory=dict)  # per remembered price, by stream

    @property
    def hour_mean(self) -> float:
        return sum(self.hours) / len(self.hours) if self.hours else float("nan")


def ours(
    stripe: Stripe, work: Path, start: int, hours: int, window_days: int, *, all_streams: bool
) -> Sequence:
    """Our tap (``subscription_billed`` alone, or all four streams) from ``start`` on the stand-in's clock."""
    out = Sequence()
    stripe.control("clock", {"now": start})
    stripe.reset()
    state = last_state(run_tap(work, tap_config(stripe), all_streams=all_streams).stdout)
    out.first, out.first_by = _count(stripe)
    for _ in range(hours):
        before = stripe.now()
        stripe.control("advance", {"hours": 1})
        stripe.reset()
        state = last_state(run_tap(work, tap_config(stripe), state, all_streams=all_streams).stdout)
        out.hours.append(_count(stripe)[0])
        out.hour_billed.append(len(stripe.billed(before - LAG, stripe.now() - LAG)))
    before = stripe.now()
    stripe.control("advance", {"days": window_days})
    stripe.reset()
    state = last_state(run_tap(work, tap_config(stripe), state, all_streams=all_streams).stdout)
    out.window, out.window_by = _count(stripe)
    out.billed_window = len(stripe.billed(before - LAG, stripe.now() - LAG))
    bookmarks = state.get("bookmarks") or {}
    out.state_bytes = {k: len(json.dumps(v)) for k, v in bookmarks.items()}
    for stream, value in bookmarks.items():
        by_id = (value.get("prices") or {}).get("by_id") or {}
        if by_id:
            out.price_bytes[stream] = len(json.dumps(by_id)) / len(by_id)
    return out


def baseline(
    stripe: Stripe, work: Path, start: int, first_from: int, *, hours: int, window_days: int
) -> Sequence:
    """singer-io tap-stripe on the same clock path."""
    out = Sequence()
    stripe.control("clock", {"now": start})
    tap = TapStripe(stripe, work, first_from)
    stripe.reset()
    tap.sync()
    out.first, out.first_by = _count(stripe)
    for _ in range(hours):
        stripe.control("advance", {"hours": 1})
        stripe.reset()
        tap.sync()
        out.hours.append(_count(stripe)[0])
    stripe.control("advance", {"days": window_days})
    stripe.reset()
    tap.sync()
    out.window, out.window_by = _count(stripe)
    return out


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
        billed = ours(stripe, work, start, hours, window_days, all_streams=False)
        every = ours(stripe, work, start, hours, window_days, all_streams=True)
        base = (
            baseline(stripe, work, start, first_from, hours=hours, window_days=window_days)
            if baseline_ok
            else None
        )
    name = "singer-io tap-stripe 3.3.0" if baseline_ok else "baseline not installed"
    first = per_1000(billed.first, billed_first)
    window = per_1000(billed.window, billed.billed_window)
    window_all = per_1000(every.window, every.billed_window)
    base_window = None if base is None else per_1000(base.window, billed.billed_window)
    billed_hour = sum(billed.hour_billed) / len(billed.hour_billed)
    section.rows += [
        Row(
            f"Stripe requests / 1,000 billed, first run ({billed_first:,} billed)",
            first,
            None if base is None else per_1000(base.first, billed_first),
            name,
            "req",
            "<= 15",
            first <= 15,
        ),
        Row(
            f"Stripe requests / 1,000 billed, events run over {window_days} days, billed stream alone"
            f" ({billed.billed_window:,} billed)",
            window,
            base_window,
            name,
            "req",
            "<= 12",
            window <= 12,
        ),
        Row(
            f"Stripe requests / 1,000 billed, events run over {window_days} days, all four streams"
            " (renewals send customer.subscription.updated)",
            window_all,
            base_window,
            name + ", invoices only",
            "req",
        ),
        Row(
            f"Stripe requests per hourly run, billed stream alone (mean of {hours} hours,"
            f" {billed_hour:.1f} billed/hour)",
            billed.hour_mean,
            None if base is None else base.hour_mean,
            name,
            "req",
        ),
        Row(
            f"Stripe requests per hourly run, all four streams (mean of {hours} hours)",
            every.hour_mean,
            None if base is None else base.hour_mean,
            name + ", one stream",
            "req",
            "<= 1.5",
            every.hour_mean <= 1.5,
        ),
    ]
    section.rows += old_version_rows(quick, name)
    section.details += [
        f"first run, ours: {billed.first_by}",
        f"first run, baseline: {base.first_by if base else {}}",
        f"events run, ours (billed alone): {billed.window_by}",
        f"events run, ours (all four): {every.window_by}",
        f"events run, baseline: {base.window_by if base else {}}",
        f"hourly runs, ours (billed alone): {billed.hours} (billed per hour: {billed.hour_billed})",
        f"hourly runs, ours (all four): {every.hours}",
        f"hourly runs, baseline: {base.hours if base else []}",
        f"state bytes after the events run (all four), by stream: {every.state_bytes}",
        "remembered prices, bytes each (x 2,000 prices): "
        + ", ".join(f"{k} {v:.0f} ({v * 2000 / 1024:.0f} KiB)" for k, v in every.price_bytes.items()),
    ]
    section.details += OLD_DETAILS
    return section


OLD_VERSION = "2017-08-15"
OLD_DETAILS: list[str] = []


def old_version_rows(quick: bool, name: str) -> list[Row]:
    """An account that never upgraded: every event carries a 2017-08-15 payload. All four streams."""
    invoices, history, hours, window_days = (2000, 20, 4, 5) if quick else (6000, 30, 12, 10)
    with Stripe(invoices, history_days=history, api_version=OLD_VERSION) as stripe, temp_dir() as tmp:
        start = stripe.now()
        every = ours(stripe, Path(tmp), start, hours, window_days, all_streams=True)
        base = None
        if BASELINE_PY.exists():
            first_from = start - (history + 1) * 86_400
            base = baseline(stripe, Path(tmp), start, first_from, hours=hours, window_days=window_days)
    OLD_DETAILS[:] = [
        f"{OLD_VERSION} account, events run (all four): {every.window_by}",
        f"{OLD_VERSION} account, hourly runs (all four): {every.hours}",
        f"{OLD_VERSION} account, baseline events run: {base.window_by if base else {}}",
    ]
    return [
        Row(
            f"{OLD_VERSION} payloads: Stripe requests / 1,000 billed, events run over {window_days} days,"
            f" all four streams ({every.billed_window:,} billed)",
            per_1000(every.window, every.billed_window),
            None if base is None else per_1000(base.window, every.billed_window),
            name + ", invoices only",
            "req",
        ),
        Row(
            f"{OLD_VERSION} payloads: Stripe requests per hourly run, all four streams (mean of {hours})",
            every.hour_mean,
            None if base is None else base.hour_mean,
            name + ", one stream",
            "req",
        ),
    ]
