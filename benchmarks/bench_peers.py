"""A second peer: Airbyte's ``source-stripe`` (PyPI ``airbyte-source-stripe`` 5.14.1), run for real.

It runs in its own venv (``benchmarks/.venvs/airbyte-stripe``, made by ``scripts/bench.sh`` with a Python
below 3.12, as the package requires) through ``airbyte_stripe_shim.py`` (stand-in URL and clock only),
streams ``invoices`` + ``invoice_line_items`` (what it needs for the same records, as for singer-io
``tap-stripe``). Ours: ``subscription_billed`` alone. Both read the same generated account on one Stripe
stand-in, on the same clock path: a first run over the whole history, then one incremental run
``window_days`` later (both read ``/v1/events`` there: Airbyte ``invoice.*``, ours ``invoice.paid``).
Requests are counted by the stand-in; wall time is the process's, start-up included.

The Airbyte CDK spends ~10 ms of CPU per invoice read (measured here: 43 s of CPU for 2,000 invoices
and their lines), so this section uses a smaller account than the requests section.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import time
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

AIRBYTE_PY = ROOT / "benchmarks" / ".venvs" / "airbyte-stripe" / "bin" / "python"
SHIM = ROOT / "benchmarks" / "airbyte_stripe_shim.py"
WHY_NOT = ROOT / "benchmarks" / ".venvs" / "airbyte-stripe.unavailable"  # written by scripts/bench.sh
LAG = 300
STREAMS = ("invoices", "invoice_line_items")


class Airbyte:
    """Airbyte source-stripe against the stand-in: discovery once, then reads with state."""

    def __init__(self, url: str, workdir: Path, start: int) -> None:
        self.url = url
        self.dir = workdir
        iso = f"{dt.datetime.fromtimestamp(start, tz=dt.timezone.utc):%Y-%m-%dT%H:%M:%SZ}"
        config = {"client_secret": LIVE_KEY, "account_id": "acct_standin", "start_date": iso}
        self.config = write_json(workdir, "ab-config.json", config)
        found = json.loads(self._run(["discover", "--config", self.config]).splitlines()[-1])
        chosen = [s for s in found["catalog"]["streams"] if s["name"] in STREAMS]
        configured = {
            "streams": [
                {
                    "stream": s,
                    "sync_mode": "incremental",
                    "destination_sync_mode": "append",
                    "cursor_field": s.get("default_cursor_field") or [],
                }
                for s in chosen
            ]
        }
        self.catalog = write_json(workdir, "ab-catalog.json", configured)
        self.state: dict[str, Any] = {}
        self.records = 0

    def _run(self, args: list[str]) -> bytes:
        argv = [str(AIRBYTE_PY), str(SHIM), self.url, *args]
        done = subprocess.run(argv, capture_output=True, check=False, cwd=ROOT, timeout=3600)
        if done.returncode != 0:
            raise RuntimeError(f"source-stripe failed: {done.stderr.decode(errors='replace')[-1500:]}")
        return done.stdout

    def read(self) -> float:
        """One read (with the state of the previous one); its wall time in seconds."""
        args = ["read", "--config", self.config, "--catalog", self.catalog]
        if self.state:
            args += ["--state", write_json(self.dir, "ab-state.json", list(self.state.values()))]
        started = time.perf_counter()
        out = self._run(args)
        seconds = time.perf_counter() - started
        self.records = 0
        for line in out.splitlines():
            message = json.loads(line)
            kind = message.get("type")
            if kind == "RECORD":
                self.records += 1
            elif kind == "STATE" and message["state"].get("type") == "STREAM":
                state = message["state"]
                self.state[state["stream"]["stream_descriptor"]["name"]] = state
            elif kind == "TRACE" and message["trace"].get("type") == "ERROR":
                raise RuntimeError(f"source-stripe error: {message['trace']['error'].get('message')}")
        return seconds


def _requests(stripe: Stripe) -> tuple[int, dict[str, int]]:
    stats = stripe.stats()
    return sum(stats.values()), stats


def _per_1000(requests: int, billed: int) -> float:
    return 1000.0 * requests / billed if billed else float("nan")


def unavailable() -> str | None:
    """Why the peer cannot run here, or None."""
    if AIRBYTE_PY.exists():
        return None
    if WHY_NOT.exists():
        return WHY_NOT.read_text().strip()
    return "benchmarks/.venvs/airbyte-stripe is missing: run scripts/bench.sh (it makes the venv)"


def run(quick: bool) -> Section:
    invoices, history, window_days = (1500, 20, 5) if quick else (3000, 30, 10)
    section = Section()
    why_not = unavailable()
    name = "Airbyte source-stripe 5.14.1"
    with Stripe(invoices, history_days=history) as stripe, temp_dir() as tmp:
        work = Path(tmp)
        start = stripe.now()
        first_from = start - (history + 1) * 86_400
        billed_first = len(stripe.billed(None, start - LAG))
        stripe.reset()
        started = time.perf_counter()
        state = last_state(run_tap(work, tap_config(stripe)).stdout)
        ours_first_s = time.perf_counter() - started
        ours_first, ours_first_by = _requests(stripe)
        stripe.control("advance", {"days": window_days})
        billed_window = len(stripe.billed(start - LAG, stripe.now() - LAG))
        stripe.reset()
        started = time.perf_counter()
        run_tap(work, tap_config(stripe), state)
        ours_window_s = time.perf_counter() - started
        ours_window, ours_window_by = _requests(stripe)
        peer: dict[str, Any] = {}
        if why_not is None:
            try:
                stripe.control("clock", {"now": start})
                airbyte = Airbyte(stripe.url, work, first_from)
                stripe.reset()
                peer["first_s"] = airbyte.read()
                peer["first"], peer["first_by"] = _requests(stripe)
                peer["first_records"] = airbyte.records
                stripe.control("advance", {"days": window_days})
                stripe.reset()
                peer["window_s"] = airbyte.read()
                peer["window"], peer["window_by"] = _requests(stripe)
                peer["window_records"] = airbyte.records
            except (RuntimeError, subprocess.TimeoutExpired, json.JSONDecodeError) as exc:
                why_not = f"it ran but failed: {str(exc)[:300]}"
                peer = {}
    label = name if why_not is None else f"{name}: not run, {why_not}"
    section.rows += [
        Row(
            f"Airbyte peer: Stripe requests / 1,000 billed, first run ({billed_first:,} billed,"
            f" {invoices:,}-invoice account)",
            _per_1000(ours_first, billed_first),
            _per_1000(peer["first"], billed_first) if peer else None,
            label,
            "req",
        ),
        Row(
            f"Airbyte peer: Stripe requests / 1,000 billed, incremental run {window_days} days later"
            f" ({billed_window:,} billed)",
            _per_1000(ours_window, billed_window),
            _per_1000(peer["window"], billed_window) if peer else None,
            label,
            "req",
        ),
        Row(
            "Airbyte peer: wall time, first run (process start to exit)",
            ours_first_s,
            peer.get("first_s"),
            label,
            "s",
        ),
        Row(
            f"Airbyte peer: wall time, incremental run {window_days} days later",
            ours_window_s,
            peer.get("window_s"),
            label,
            "s",
        ),
    ]
    section.details += [
        f"peer account, ours first run: {ours_first_by}; events run: {ours_window_by}",
        f"peer account, Airbyte first run: {peer.get('first_by')} ({peer.get('first_records')} records);"
        f" incremental: {peer.get('window_by')} ({peer.get('window_records')} records)",
    ]
    if why_not is not None:
        section.details.append(f"Airbyte source-stripe not run: {why_not}")
    return section
