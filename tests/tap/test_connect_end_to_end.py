"""Many connected accounts in one tap, against the Stripe stand-in's Connect platform: exactly once per
account against each account's ground truth, a revoked account skipped with its state kept (and caught
up once access is back), shards without overlap, and a rejected platform key still stopping the run."""

from __future__ import annotations

import copy
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from tap_stripe_billing.errors import StripeAccessError
from tap_stripe_billing.windows import iso_utc

from stand_ins.stripe import LIVE_KEY, AccountConfig, StripeStandIn, expected_billed, generate_account
from tests.tap.harness import run_tap
from tests.tap.test_end_to_end import compare

pytestmark = pytest.mark.slow  # whole runs of every stream over several generated accounts

DAY = 86_400
LAG = 300
STREAMS = ("subscription_billed", "subscription_changed", "subscription_canceled", "subscription_refunded")
IDENTITY = {
    "subscription_billed": "invoice_id",
    "subscription_changed": "subscription_id",
    "subscription_canceled": "subscription_id",
    "subscription_refunded": "refund_id",
}


@pytest.fixture(scope="module")
def server() -> Iterator[StripeStandIn]:
    platform = generate_account(AccountConfig(seed=21, invoices=30, history_days=60, horizon_days=10))
    with StripeStandIn(platform) as srv:
        srv.connect(6, invoices=120)
        yield srv


@pytest.fixture(autouse=True)
def restore(server: StripeStandIn) -> Iterator[None]:
    saved = server.account.now
    try:
        yield
    finally:
        server.account.set_now(saved)
        for account in server.platform.accounts:
            server.platform.revoke(account, revoked=False)


def config(server: StripeStandIn, start: int, **extra: Any) -> dict[str, Any]:
    return {
        "api_key": LIVE_KEY,
        "api_url": server.url,
        "start_date": iso_utc(start),
        "max_requests_per_second": 1000,
        "max_requests_per_second_per_endpoint": 1000,
        "backoff_base_seconds": 0,
        **extra,
    }


def partitions(state: dict[str, Any] | None, stream: str) -> dict[str, dict[str, Any]]:
    parts = ((state or {}).get("bookmarks", {}).get(stream) or {}).get("partitions") or []
    return {p["context"]["account_id"]: p for p in parts}


def by_account(records: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        grouped.setdefault(record["account_id"], []).append(record)
    return grouped


def owned_ids(server: StripeStandIn, account: str) -> dict[str, set[str]]:
    """Ids of the objects of one connected account, by the identity field of each stream."""
    data = server.platform.generated(account, server.account.now)
    return {
        "invoice_id": {o.id for o in data.invoices},
        "subscription_id": {o.id for o in data.subscriptions},
        "refund_id": {o.id for o in data.refunds},
    }


def test_each_account_exactly_once_and_a_revoked_account_is_skipped_with_its_state_kept(
    server: StripeStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    accounts = list(server.platform.accounts)
    revoked = accounts[2]
    start = server.account.now - 30 * DAY
    cfg = config(server, start, all_connected_accounts=True)
    runs = []
    state: dict[str, Any] | None = None
    emitted_at: dict[str, int] = {}

    first = run_tap(cfg, state, streams=None)
    runs.append(first)
    emitted_at.update({r["invoice_id"]: server.account.now for r in first.records})
    assert sorted(partitions(first.state, "subscription_billed")) == sorted(accounts)

    # The platform loses access to one account for an hour: named once, skipped, its state as it was.
    server.platform.revoke(revoked)
    server.account.advance(hours=1)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="tap_stripe_billing"):
        second = run_tap(
            {**cfg, "all_connected_accounts": False, "account_ids": accounts},
            copy.deepcopy(first.state),
            None,
        )
    runs.append(second)
    emitted_at.update({r["invoice_id"]: server.account.now for r in second.records})
    lines = [r.getMessage() for r in caplog.records if "Skipped Stripe account" in r.getMessage()]
    assert len(lines) == 1 and revoked in lines[0] and "403 account_invalid" in lines[0]
    assert LIVE_KEY not in caplog.text
    for stream in STREAMS:
        before, after = partitions(first.state, stream), partitions(second.state, stream)
        assert after[revoked] == before[revoked], f"{stream}: the revoked account's state changed"
        others = [a for a in accounts if a != revoked]
        moved = {
            a: (before[a].get("replication_key_value"), after[a].get("replication_key_value")) for a in others
        }
        assert all(old is None or new > old for old, new in moved.values()), (stream, moved)
    assert revoked not in by_account(second.records)

    # Access is back: the account catches up from its own bookmark.
    server.platform.revoke(revoked, revoked=False)
    server.account.advance(hours=1)
    third = run_tap(cfg, copy.deepcopy(second.state), streams=None)
    runs.append(third)
    emitted_at.update({r["invoice_id"]: server.account.now for r in third.records})

    upper = server.account.now - LAG
    billed = by_account([r for run in runs for r in run.by_stream["subscription_billed"]])
    assert sorted(billed) == sorted(accounts)
    for account in accounts:
        data = server.platform.generated(account, server.account.now)
        compare(billed[account], expected_billed(data, paid_before=upper, paid_from=start), data, emitted_at)
    for stream in STREAMS[1:]:
        records = [r for run in runs for r in run.by_stream[stream]]
        keys = [(r["account_id"], r[IDENTITY[stream]], r.get("change_id")) for r in records]
        assert len(keys) == len(set(keys)), f"{stream}: a record was emitted twice"
        for account, group in by_account(records).items():
            owned = owned_ids(server, account)[IDENTITY[stream]]
            assert {r[IDENTITY[stream]] for r in group} <= owned, (
                f"{stream}: a record under the wrong account"
            )
    assert any(run.by_stream["subscription_refunded"] for run in runs)


def test_shards_split_the_platform_without_overlap(server: StripeStandIn) -> None:
    start = server.account.now - 20 * DAY
    shards = [
        run_tap(config(server, start, all_connected_accounts=True, account_shard=f"{k}/3"), None)
        for k in range(3)
    ]
    owners = [set(partitions(s.state, "subscription_billed")) for s in shards]
    assert sum(len(o) for o in owners) == len(server.platform.accounts)
    assert set().union(*owners) == set(server.platform.accounts)
    upper = server.account.now - LAG
    for shard, owned in zip(shards, owners, strict=True):
        got = by_account(shard.records)
        assert set(got) <= owned
        for account in owned:
            data = server.platform.generated(account, server.account.now)
            expected = expected_billed(data, paid_before=upper, paid_from=start)
            assert sorted(r["invoice_id"] for r in got.get(account, [])) == sorted(expected)


def test_a_rejected_platform_key_still_stops_the_run(server: StripeStandIn) -> None:
    cfg = config(server, server.account.now - DAY, all_connected_accounts=True, api_key="sk_live_" + "9" * 24)
    with pytest.raises(StripeAccessError, match=r"401 Unauthorized"):
        run_tap(cfg, None)
    accounts = list(server.platform.accounts)[:2]
    with pytest.raises(StripeAccessError, match=r"401 Unauthorized"):
        run_tap({**cfg, "all_connected_accounts": False, "account_ids": accounts}, {})
