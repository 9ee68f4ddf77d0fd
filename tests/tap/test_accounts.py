"""Many accounts in one tap: the settings, the stable shard hash, and the state of each account (unit)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from tap_stripe_billing import accounts
from tap_stripe_billing.errors import ConfigError
from tap_stripe_billing.settings import Settings
from tap_stripe_billing.tap import TapStripeBilling

from tests.tap import payloads as p
from tests.tap.harness import FAKE_ACCOUNT_ID, LIVE_KEY, FakeStripe, run_tap

ROOT = Path(__file__).resolve().parents[2]
T0 = 1_790_000_000
DAY, H = 86_400, 3_600
IDS = [f"acct_1Test{i:011d}" for i in range(400)]


def settings(**config: Any) -> Settings:
    return Settings.from_config({"api_key": LIVE_KEY, **config})


# -- settings -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "expected"),
    [("0/4", (0, 4)), (" 3 / 4 ", (3, 4)), ("0/1", (0, 1)), (None, None), ("", None)],
)
def test_account_shard_accepts_k_of_n(value: Any, expected: Any) -> None:
    assert accounts.parse_shard(value) == expected


@pytest.mark.parametrize("value", ["4/4", "-1/4", "1/0", "0/0", "1", "a/b", "1/2/3", "1.5/4", 3, ["0/4"]])
def test_account_shard_refuses_anything_else_with_one_line(value: Any) -> None:
    with pytest.raises(ConfigError) as caught:
        accounts.parse_shard(value)
    message = str(caught.value)
    assert message.startswith('account_shard must be "K/N" with 0 <= K < N') and "\n" not in message


def test_account_ids_are_checked_trimmed_and_deduplicated() -> None:
    assert settings(account_ids=[" acct_1A ", "acct_1B", "acct_1A"]).account_ids == ("acct_1A", "acct_1B")
    assert settings(account_ids="acct_1A,acct_1B").account_ids == ("acct_1A", "acct_1B")  # from the env
    with pytest.raises(ConfigError, match=r"account_ids: 'cus_1' is not a Stripe account id"):
        settings(account_ids=["acct_1A", "cus_1"])
    with pytest.raises(ConfigError, match="account_ids must be a list"):
        settings(account_ids={"acct_1A": 1})


def test_a_shard_needs_accounts_to_split() -> None:
    with pytest.raises(ConfigError, match="account_shard needs accounts to split"):
        settings(account_shard="0/2")
    assert settings(account_shard="1/2", all_connected_accounts="true").account_shard == (1, 2)
    assert not settings().connected
    assert settings(all_connected_accounts=True).connected


def test_a_bad_shard_ends_the_cli_with_one_line_and_no_request(tmp_path: Path) -> None:
    config = tmp_path / "tap.json"
    settings = {"api_key": LIVE_KEY, "api_url": "http://127.0.0.1:9", "account_ids": ["acct_1A"]}
    config.write_text(json.dumps({**settings, "account_shard": "4/4"}))
    result = subprocess.run(
        [str(Path(sys.executable).parent / "tap-stripe-billing"), "--config", str(config)],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 1
    assert result.stdout == ""
    assert [line for line in result.stderr.splitlines() if "error" in line.lower()] == [
        'tap-stripe-billing: error: account_shard must be "K/N" with 0 <= K < N, e.g. "0/4" for the first'
        " of 4 shards; got '4/4'"
    ]


# -- the shard hash ---------------------------------------------------------------------------------------
def test_shards_split_accounts_without_overlap_or_gap_and_evenly() -> None:
    for count in (1, 2, 4, 7):
        shards = [accounts.select_accounts(IDS, [], (k, count)) for k in range(count)]
        together = [a for shard in shards for a in shard]
        assert sorted(together) == sorted(IDS) and len(together) == len(set(together))
        sizes = [len(s) for s in shards]
        assert min(sizes) >= len(IDS) / count * 0.6, sizes


def test_the_shard_is_sha256_of_the_id_not_pythons_salted_hash() -> None:
    account = "acct_1032D82eZvKYlo2C"
    expected = int(hashlib.sha256(account.encode()).hexdigest()[:16], 16) % 16
    assert accounts.shard_of(account, 16) == expected
    # Another process with another hash seed puts every account in the same shard.
    code = (
        "from tap_stripe_billing.accounts import shard_of;"
        "print([shard_of('acct_1Test{:011d}'.format(i), 7) for i in range(50)])"
    )
    outs = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        ).stdout
        for seed in ("1", "2")
    }
    assert outs == {str([accounts.shard_of(a, 7) for a in IDS[:50]]) + "\n"}


def test_connected_accounts_are_listed_paged_and_merged_with_account_ids() -> None:
    class Lister:
        def __init__(self) -> None:
            self.asked: list[tuple[str, Any]] = []

        def list_all(self, path: str, params: Any) -> Any:
            self.asked.append((path, list(params)))
            return iter([{"id": "acct_1B"}, {"id": "acct_1C"}])

    lister = Lister()
    listed = accounts.connected_accounts(lister)
    assert lister.asked == [("/v1/accounts", [("limit", 100)])]
    assert accounts.select_accounts(["acct_1C", "acct_1A"], listed, None) == ["acct_1A", "acct_1B", "acct_1C"]


# -- one partition per account, and the state of the key's own account ------------------------------------
@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeStripe:
    stripe = FakeStripe(now=T0, prices=[p.price()])
    monkeypatch.setattr(TapStripeBilling, "build_api", lambda self: stripe)
    return stripe


def paid(fake: FakeStripe, invoice_id: str, at: int) -> None:
    fake.add_invoice(p.invoice(invoice_id, created=at, paid_at=at), event_created=at)


def test_the_keys_own_account_is_asked_once_and_kept_and_an_old_state_emits_nothing_twice(
    fake: FakeStripe,
) -> None:
    """A state written before accounts existed (no account_id) is read as it is: nothing it emitted is
    emitted again; the account is asked once, kept, and not asked again the next hour."""
    start = T0 - 10 * DAY
    paid(fake, "in_1", T0 - 2 * DAY)
    first = run_tap({"api_key": LIVE_KEY, "start_date": "2026-09-01T00:00:00Z"})
    old_state = first.state
    assert old_state is not None
    for stream in old_state["bookmarks"].values():  # as the previous release wrote it
        stream.pop("account_id", None)
    assert [r["account_id"] for r in first.records] == [FAKE_ACCOUNT_ID]

    fake.now = T0 + H
    paid(fake, "in_2", T0 + 60)
    fake.requests.clear()
    second = run_tap({"api_key": LIVE_KEY, "start_date": "2026-09-01T00:00:00Z"}, old_state)
    assert second.summary["mode"] == "incremental" and start
    assert [r["invoice_id"] for r in second.records] == ["in_2"]
    assert [r["account_id"] for r in second.records] == [FAKE_ACCOUNT_ID]
    assert fake.requests["GET /v1/account"] == 1
    assert second.stream_state["account_id"] == FAKE_ACCOUNT_ID

    fake.now = T0 + 2 * H
    fake.requests.clear()
    third = run_tap({"api_key": LIVE_KEY, "start_date": "2026-09-01T00:00:00Z"}, second.state)
    assert third.records == []
    assert fake.requests["GET /v1/account"] == 0, "the account must come from state, not every hour"
    assert fake.accounts_read == [], "the key's own account is read without Stripe-Account"


def test_naming_the_keys_own_account_moves_its_state_into_the_partition(fake: FakeStripe) -> None:
    paid(fake, "in_1", T0 - 2 * DAY)
    config = {"api_key": LIVE_KEY, "start_date": "2026-09-01T00:00:00Z"}
    single = run_tap(config)
    fake.now = T0 + H
    paid(fake, "in_2", T0 + 60)
    moved = run_tap({**config, "account_ids": [FAKE_ACCOUNT_ID]}, single.state)
    assert [r["invoice_id"] for r in moved.records] == ["in_2"], "history was emitted again"
    assert moved.summary["mode"] == "incremental"
    [partition] = moved.stream_state["partitions"]
    assert partition["context"] == {"account_id": FAKE_ACCOUNT_ID}
    assert partition["binding"] == {"stripe_mode": "live", "account_id": FAKE_ACCOUNT_ID}
    assert "replication_key_value" not in moved.stream_state
    assert set(fake.accounts_read) == {FAKE_ACCOUNT_ID}


def test_each_account_has_its_own_bookmark_and_records_carry_it(fake: FakeStripe) -> None:
    paid(fake, "in_1", T0 - 2 * DAY)
    config = {
        "api_key": LIVE_KEY,
        "start_date": "2026-09-01T00:00:00Z",
        "account_ids": ["acct_1B", "acct_1A"],
    }
    result = run_tap(config)
    # The in-memory Stripe shows the same invoice to both accounts: each account emits it once.
    assert Counter(r["account_id"] for r in result.records) == {"acct_1A": 1, "acct_1B": 1}
    contexts = [s["context"] for s in result.stream_state["partitions"]]
    assert contexts == [{"account_id": "acct_1A"}, {"account_id": "acct_1B"}]
    assert all(s["replication_key_value"] for s in result.stream_state["partitions"])
    assert fake.requests["GET /v1/account"] == 0


# -- the client's view of a connected account, against the stand-in's Connect platform --------------------
def test_the_client_sends_stripe_account_and_stops_asking_for_a_refused_account() -> None:
    from tap_stripe_billing.client import StripeAPI, list_params
    from tap_stripe_billing.errors import AccountUnavailableError, StripeAccessError

    from stand_ins.stripe import LIVE_KEY as STANDIN_KEY
    from stand_ins.stripe import AccountConfig, StripeStandIn, generate_account

    with StripeStandIn(generate_account(AccountConfig(seed=2, invoices=10, history_days=20))) as server:
        first, second = server.connect(2, invoices=15)
        api = StripeAPI(STANDIN_KEY, server.url, backoff_base=0)
        own = {i["id"] for i in api.list_all("/v1/invoices", list_params())}
        theirs = {i["id"] for i in api.for_account(first).list_all("/v1/invoices", list_params())}
        data = server.platform.generated(first, server.account.now)
        assert theirs == {i.id for i in data.invoices if i.livemode and i.created <= server.account.now}
        assert own and not own & theirs
        assert server.account_stats[first] == api.account_requests[first] >= 1

        server.platform.revoke(second)
        view = api.for_account(second)
        with pytest.raises(AccountUnavailableError) as caught:
            view.get("/v1/invoices", list_params(limit=1))
        assert caught.value.account_id == second and "403 account_invalid" in str(caught.value)
        assert STANDIN_KEY not in str(caught.value) and "\n" not in str(caught.value)
        asked = server.account_stats[second]
        with pytest.raises(AccountUnavailableError):
            api.for_account(second).get("/v1/events", list_params(limit=1))
        assert server.account_stats[second] == asked, "a refused account was asked again"

        bad = StripeAPI("sk_live_" + "7" * 24, server.url, backoff_base=0)
        with pytest.raises(StripeAccessError) as rejected:
            bad.for_account(first).get("/v1/invoices", list_params(limit=1))
        assert not isinstance(rejected.value, AccountUnavailableError)
        assert "401 Unauthorized" in str(rejected.value)


def test_the_state_binding_works_per_partition(fake: FakeStripe) -> None:
    """A test-key state of an account is parked, not applied, when the live key reads that account; the
    partition keeps its context (singer-sdk finds it by context)."""
    paid(fake, "in_1", T0 - 2 * DAY)
    base = {"start_date": "2026-09-01T00:00:00Z", "account_ids": ["acct_1A"]}
    trial = run_tap({**base, "api_key": "sk_test_" + "1" * 24, "allow_test_mode": True})
    [part] = trial.stream_state["partitions"]
    assert part["binding"] == {"stripe_mode": "test", "account_id": "acct_1A"}
    fake.now = T0 + H
    live = run_tap({**base, "api_key": LIVE_KEY}, trial.state)
    [part] = live.stream_state["partitions"]
    assert part["context"] == {"account_id": "acct_1A"}
    assert part["binding"] == {"stripe_mode": "live", "account_id": "acct_1A"}
    assert "account_id=acct_1A,stripe_mode=test" in part["parked"]
    assert live.summary["mode"] == "backfill", "the test-key bookmark must not be applied to the live key"
    assert [r["invoice_id"] for r in live.records] == ["in_1"]
