"""The Dagster job's 4 partitions against a Stripe Connect platform of 50 accounts: exactly once, per account.

In-process execution runs one partition at a time, so the 4 shards run here one after another (the
benchmark, ``benchmarks/bench_shards.py``, runs them side by side as separate processes, as Dagster's run
launcher does). Each shard really runs ``meltano run --state-id-suffix shard-K-of-4`` with the tap's
``account_shard``.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from dagster import DagsterInstance, RetryPolicy

from local_pipeline import KISSMETRICS_KEY, LocalPipeline
from local_pipeline.connect import connected_accounts, exactness
from orchestration.jobs import MeltanoProject, build_job
from orchestration.shards import shard_keys, state_id_suffix

pytestmark = pytest.mark.slow  # 4 meltano runs against the stand-ins as processes

ACCOUNTS = 50
INVOICES_PER_ACCOUNT = 25
SHARDS = 4
STATE_ID = "local:tap-stripe-billing-to-target-kissmetrics"


def shard_accounts(meltano_db: Path) -> dict[str, set[str]]:
    """state id suffix -> the accounts whose bookmarks that shard's state holds (Meltano's system DB)."""
    with sqlite3.connect(meltano_db) as db:
        rows = db.execute("SELECT state_id, completed_state FROM state").fetchall()
    found: dict[str, set[str]] = {}
    for state_id, completed in rows:
        bookmarks: dict[str, Any] = json.loads(completed or "{}").get("singer_state", {}).get("bookmarks", {})
        found[state_id] = {
            part["context"]["account_id"]
            for stream in bookmarks.values()
            for part in stream.get("partitions", [])
        }
    return found


def test_four_shards_deliver_each_accounts_payments_exactly_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stripe_args = ("--connected-accounts", str(ACCOUNTS), "--connected-invoices", str(INVOICES_PER_ACCOUNT))
    with LocalPipeline(invoices=50, workdir=tmp_path, history_days=30, stripe_args=stripe_args) as local:
        # 2 backfill slices in flight, not 16: a first run lists each account in parallelism x 3 time slices,
        # one request each even when empty (48 of the ~52 requests per account at 16), which was most of
        # this test's time; the parallel backfill itself is tested in tests/tap, not here.
        env = local.meltano_env(
            TAP_STRIPE_BILLING_ALL_CONNECTED_ACCOUNTS="true", TAP_STRIPE_BILLING_BACKFILL_PARALLELISM="2"
        )
        env.pop("TARGET_KISSMETRICS_JOURNAL_PATH")  # each shard gets its own (orchestration.meltano_run)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        accounts = connected_accounts(local)
        assert len(accounts) == ACCOUNTS

        job = build_job(SHARDS, retry_policy=RetryPolicy(max_retries=0))
        instance = DagsterInstance.ephemeral()
        meltano = MeltanoProject(journal_root=str(tmp_path / "journals"))
        runs = []
        for key in shard_keys(SHARDS):
            result = job.execute_in_process(
                partition_key=key, instance=instance, resources={"meltano": meltano}
            )
            assert result.success, key
            runs.append(result.run_id)

        # Per account: KISSmetrics shows exactly Stripe's ground truth, and no request was sent twice.
        found = exactness(local, accounts)
        assert found.expected_events > ACCOUNTS * 5
        assert (found.exact_accounts, found.sent_twice, found.unknown) == (ACCOUNTS, 0, 0)
        assert local.kissmetrics.control("violations") == []

        # Each shard kept its own state id, over its own accounts: together all of them, none twice.
        states = shard_accounts(tmp_path / "meltano.db")
        per_shard = [states[f"{STATE_ID}:{state_id_suffix(key)}"] for key in shard_keys(SHARDS)]
        assert all(per_shard), "every shard read some accounts"
        assert sum(len(s) for s in per_shard) == ACCOUNTS
        assert set().union(*per_shard) == set(accounts)

        # Nothing secret in what Dagster stored (its web UI shows these logs and run records).
        for run_id in runs:
            stored = "\n".join(str(entry) for entry in instance.all_logs(run_id))
            run = instance.get_run_by_id(run_id)
            assert run is not None
            stored += str(run.run_config) + str(run.tags)
            assert "meltano run" in stored or "Run completed" in stored
            assert local.stripe_key not in stored
            assert KISSMETRICS_KEY not in stored
