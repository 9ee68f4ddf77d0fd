"""Exactness per connected account: what KISSmetrics received against the Stripe stand-in's ground truth.

Used by the Dagster shard test and the shard benchmark (`tests/orchestration/`, `benchmarks/bench_shards.py`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import yaml
from tap_stripe_billing.state import parse_timestamp
from tap_stripe_billing.windows import WindowSettings

from stand_ins.processes import REPO_ROOT

from . import LocalPipeline

BILLED = "Subscription Billed"


def local_start_date() -> int:
    """`start_date` of the tap in meltano.yml's `local` environment (the one the stand-in runs use)."""
    project = yaml.safe_load((REPO_ROOT / "meltano.yml").read_text())
    [local] = [env for env in project["environments"] if env["name"] == "local"]
    [tap] = [p for p in local["config"]["plugins"]["extractors"] if p["name"] == "tap-stripe-billing"]
    start = parse_timestamp(tap["config"]["start_date"])
    assert start is not None
    return start


def connected_accounts(local: LocalPipeline) -> list[str]:
    return [a["id"] for a in local.stripe.control("accounts") if not a["revoked"]]


def requests_by_account(local: LocalPipeline) -> dict[str, int]:
    """Stripe requests each connected account has received so far (the stand-in counts them)."""
    return {a["id"]: int(a["requests"]) for a in local.stripe.control("accounts")}


@dataclass
class Exactness:
    accounts: int
    exact_accounts: int  # KISSmetrics shows exactly that account's ground truth
    expected_events: int
    sent_twice: int  # billed events whose request reached KISSmetrics more than once
    unknown: int  # billed events no account's ground truth has
    # per account, invoice id -> whether it had an email when this check judged it (pass it on: `earlier`)
    judged: dict[str, dict[str, bool]] = field(default_factory=dict)

    @property
    def exact(self) -> bool:
        return self.exact_accounts == self.accounts and self.sent_twice == 0 and self.unknown == 0


def exactness(local: LocalPipeline, accounts: list[str], earlier: Exactness | None = None) -> Exactness:
    """`Subscription Billed` per account: paid in [start_date, clock - lag), with an email, once each.

    An invoice is sent only if it had an email (the invoice's, else its customer's) when the pipeline read
    it; a customer may add an email later, and the invoice then has one in the ground truth at a later
    clock although the run that read it had none to send it with (SPEC §3: not sent, counted). So after an
    earlier run pass that run's result as ``earlier``: an invoice it judged without an email may be sent
    or not (a later overlap may read it again), but is not required.
    """
    upper = local.stripe.control("clock")["now"] - WindowSettings().lag
    lower = local_start_date()
    judged: dict[str, dict[str, bool]] = {}
    required: dict[str, set[str]] = {}
    optional: dict[str, set[str]] = {}
    for account in accounts:
        truth = local.stripe.control(f"truth/billed?account={account}&paid_from={lower}&paid_before={upper}")
        before = earlier.judged.get(account, {}) if earlier else {}
        judged[account] = {
            r["invoice_id"]: before.get(r["invoice_id"], bool(r["customer_email"])) for r in truth
        }
        required[account] = {i for i, has_email in judged[account].items() if has_email}
        optional[account] = {r["invoice_id"] for r in truth if r["customer_email"]} - required[account]
    owner = {invoice: account for account in accounts for invoice in required[account] | optional[account]}
    shown = [e["properties"]["Stripe Invoice ID"] for e in local.received() if e["event"] == BILLED]
    by_account: dict[str, set[str]] = {account: set() for account in accounts}
    for invoice in shown:
        if invoice in owner:
            by_account[owner[invoice]].add(invoice)
    sent = Counter(
        dict(r["params"]).get("Stripe Invoice ID")
        for r in local.kissmetrics.control("requests")
        if dict(r["params"]).get("_n") == BILLED
    )
    return Exactness(
        accounts=len(accounts),
        exact_accounts=sum(required[a] <= by_account[a] <= required[a] | optional[a] for a in accounts),
        expected_events=sum(len(required[a]) for a in accounts),
        sent_twice=sum(1 for count in sent.values() if count > 1),
        unknown=len(set(shown) - set(owner)),
        judged=judged,
    )
