"""Everyday operations, run as an operator would with `meltano run stripe-to-kissmetrics` (issue #15).

Each test starts its own stand-ins and Meltano database (``LocalPipeline``), does what the README's
"Operating it" recipe says, and compares the KISSmetrics stand-in's de-duplicated view with the Stripe
stand-in's ground truth, payment by payment: nothing lost, nothing counted twice.
"""

from __future__ import annotations

import subprocess
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from local_pipeline import KISSMETRICS_KEY, LocalPipeline
from tests.reliability.harness import Tally, assert_exact, tally, unix

START_DATE = "2026-09-01T00:00:00Z"  # the `local` environment's start_date in meltano.yml
LAG_SECONDS = 5 * 60  # the tap's default lag_minutes
BILLED = "Subscription Billed"
REFUNDED = "Refunded"


@pytest.fixture
def pipeline(tmp_path: Path) -> Iterator[LocalPipeline]:
    """2,000 invoices over 60 days; the clock can move 45 days on (the 40-day test needs it)."""
    with LocalPipeline(
        invoices=2000, seed=23, workdir=tmp_path, history_days=60, stripe_args=("--horizon-days", "45")
    ) as running:
        yield running


def run_ok(pipeline: LocalPipeline, **env: str) -> subprocess.CompletedProcess[str]:
    """`meltano run stripe-to-kissmetrics` that must succeed and print no key."""
    done = pipeline.meltano_run(**env)
    assert done.returncode == 0, done.stderr[-3000:]
    output = done.stdout + done.stderr
    secrets = [KISSMETRICS_KEY, pipeline.stripe_key]
    secrets += [value for name, value in env.items() if name.endswith("_API_KEY")]
    for secret in secrets:
        assert secret not in output
    return done


def upper(pipeline: LocalPipeline) -> int:
    """What a run now reads up to: Stripe's clock less the lag."""
    return int(pipeline.stripe.control("clock")["now"]) - LAG_SECONDS


def expected_billed(
    pipeline: LocalPipeline, start: str | None = START_DATE, *, include_test: bool = False
) -> dict[str, dict[str, Any]]:
    """invoice id -> truth record, for payments KISSmetrics must show after a run now (with an email)."""
    query = f"truth/billed?paid_before={upper(pipeline)}"
    if start is not None:
        query += f"&paid_from={unix(start)}"
    if include_test:
        query += "&include_test=1"
    truth = pipeline.stripe.control(query)
    return {r["invoice_id"]: r for r in truth if r["customer_email"] and "@" in r["customer_email"]}


def expected_refunds(pipeline: LocalPipeline, start: str = START_DATE) -> set[str]:
    truth = pipeline.stripe.control(f"truth/refunds?before={upper(pipeline)}&from={unix(start)}")
    return {r["refund_id"] for r in truth if r["customer_email"] and "@" in r["customer_email"]}


@dataclass
class Ledger:
    """What KISSmetrics must show when runs are weeks apart.

    The ground truth names a person by the email the customer has *now*, but a run sees the email as of
    its own time: a payment whose customer had no email yet was rightly skipped ("no identity") and is
    not read again. So each run adds the payments of the window it newly covered, with the emails as of
    that run (what it saw), and earlier windows keep theirs.
    """

    pipeline: LocalPipeline
    billed: dict[str, dict[str, Any]] = field(default_factory=dict)
    refunds: set[str] = field(default_factory=set)
    covered_to: dict[str, int] = field(default_factory=dict)

    def add(self, kind: str, since: int, until: int) -> None:
        if kind == "billed":
            truth = self.pipeline.stripe.control(f"truth/billed?paid_from={since}&paid_before={until}")
            self.billed.update({r["invoice_id"]: r for r in truth if "@" in (r["customer_email"] or "")})
        else:
            truth = self.pipeline.stripe.control(f"truth/refunds?from={since}&before={until}")
            self.refunds |= {r["refund_id"] for r in truth if "@" in (r["customer_email"] or "")}

    def after_run(self, *kinds: str) -> None:
        """Add what the run that just ended newly covered (default: billed and refunds)."""
        up = upper(self.pipeline)
        for kind in kinds or ("billed", "refunds"):
            self.add(kind, self.covered_to.get(kind, unix(START_DATE)), up)
            self.covered_to[kind] = up


def shown(pipeline: LocalPipeline, event: str, key: str) -> Counter[str]:
    """How many times the de-duplicated dashboard shows each ``key`` property of ``event`` events."""
    return Counter(e["properties"].get(key, "?") for e in pipeline.received() if e["event"] == event)


def assert_billed_exact(pipeline: LocalPipeline, expected: dict[str, dict[str, Any]], context: str) -> Tally:
    """Every expected payment shown once with its person, time, amount and plan; nothing else."""
    result = tally(pipeline, expected)
    assert_exact(result, context)
    return result


def assert_refunds_exact(pipeline: LocalPipeline, expected: set[str], context: str) -> None:
    counts = shown(pipeline, REFUNDED, "Stripe Refund ID")
    twice = sorted(k for k, n in counts.items() if n > 1)
    assert not twice, f"{context}: refunds counted twice: {twice[:5]}"
    lost, unexpected = sorted(expected - set(counts)), sorted(set(counts) - expected)
    assert not lost and not unexpected, f"{context}: lost {lost[:5]}, unexpected {unexpected[:5]}"
