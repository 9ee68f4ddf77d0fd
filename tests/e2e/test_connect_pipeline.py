"""`meltano run` over a Connect platform: every connected account read with its own bookmarks, and each
account's payments delivered exactly once to its own KISSmetrics product (`account_api_keys`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tap_stripe_billing.windows import WindowSettings

from local_pipeline import KISSMETRICS_KEY, LocalPipeline
from local_pipeline.connect import local_start_date

pytestmark = pytest.mark.slow  # meltano run against the stand-ins as processes

ACCOUNTS = 4


def expected_by_account(pipeline: LocalPipeline, accounts: list[str]) -> dict[str, set[str]]:
    upper = pipeline.stripe.control("clock")["now"] - WindowSettings().lag
    lower = local_start_date()
    return {
        account: {
            r["invoice_id"]
            for r in pipeline.stripe.control(
                f"truth/billed?account={account}&paid_from={lower}&paid_before={upper}"
            )
            if r["customer_email"]
        }
        for account in accounts
    }


def billed_by_key(pipeline: LocalPipeline) -> dict[str, list[str]]:
    """Every raw `Subscription Billed` request's invoice id, by the `_k` it was sent under."""
    sent: dict[str, list[str]] = {}
    for request in pipeline.kissmetrics.control("requests"):
        params = dict(request["params"])
        if params.get("_n") == "Subscription Billed":
            sent.setdefault(params["_k"], []).append(params["Stripe Invoice ID"])
    return sent


def test_each_connected_account_reaches_its_own_product_exactly_once(tmp_path: Path) -> None:
    stripe_args = ("--connected-accounts", str(ACCOUNTS), "--connected-invoices", "150")
    with LocalPipeline(
        invoices=40, seed=5, workdir=tmp_path, history_days=60, stripe_args=stripe_args
    ) as pipe:
        accounts = [a["id"] for a in pipe.stripe.control("accounts")]
        keys = {account: f"km_account_{index}_SECRETCANARY" for index, account in enumerate(accounts)}
        env = {
            "TAP_STRIPE_BILLING_ALL_CONNECTED_ACCOUNTS": "true",
            "TARGET_KISSMETRICS_ACCOUNT_API_KEYS": json.dumps(keys),
        }
        first = pipe.meltano_run(**env)
        assert first.returncode == 0, first.stderr[-3000:]
        pipe.advance_hours(1)
        second = pipe.meltano_run(**env)
        assert second.returncode == 0, second.stderr[-3000:]

        expected = expected_by_account(pipe, accounts)
        sent = billed_by_key(pipe)
        assert KISSMETRICS_KEY not in sent, "a connected account's event went under the default key"
        for account in accounts:
            got = sent.get(keys[account], [])
            assert len(got) == len(set(got)), f"{account}: a payment was sent twice"
            assert set(got) == expected[account], account
        assert sum(len(v) for v in expected.values()) > 100
        requests = {a["id"]: a["requests"] for a in pipe.stripe.control("accounts")}
        assert all(requests[a] > 0 for a in accounts)
        for output in (first.stdout, first.stderr, second.stdout, second.stderr):
            assert not any(key in output for key in [KISSMETRICS_KEY, *keys.values(), pipe.stripe_key])
