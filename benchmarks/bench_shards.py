"""Dagster shards against one: a Stripe Connect platform read by N concurrent runs of the sharded job.

    orchestration/install.sh && .venv/bin/python -m benchmarks.bench_shards
    .venv/bin/python -m benchmarks.bench_shards --accounts 40 --invoices 100   # smaller
    .venv/bin/python -m benchmarks.bench_shards --postgres --only-sharded   # journal, state on PostgreSQL

For each N (1, then 4 by default) on a fresh platform (same seed: the same accounts and invoices):
``--accounts`` connected accounts of ``--invoices`` invoices each, ``--latency-ms`` per Stripe request,
the KISSmetrics stand-in at no latency. The N partitions ``K/N`` of ``stripe_to_kissmetrics_sharded`` start
at once, each as its own process (``dagster job execute … --tags '{"dagster/partition": "K/N"}'`` on one
Dagster instance), which is what Dagster's default run launcher does with the runs of a backfill or of an
hourly tick: one process per run. First run (the backfill from start_date), then Stripe's clock moves an
hour and the same N runs go again (the hourly run). Printed: wall time of each and the ratio, Stripe
requests per account (the stand-in counts them per ``Stripe-Account``), and exactness per account
(KISSmetrics' view against the stand-in's ground truth, and no billed event sent twice).

``--postgres`` starts a real PostgreSQL (``local_pipeline/postgres.py``, from the ``pgserver`` wheel) and puts
every shard's delivery journal (``TARGET_KISSMETRICS_JOURNAL_URL``) and Meltano's state
(``MELTANO_DATABASE_URI``) on it: the N targets then share one journal, at the same time.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from local_pipeline import VENV_BIN, LocalPipeline
from local_pipeline.connect import connected_accounts, exactness, requests_by_account
from orchestration.jobs import JOB_NAME
from orchestration.shards import shard_keys
from stand_ins.processes import REPO_ROOT


@dataclass
class Pass:
    seconds: float
    requests: dict[str, int]  # per account, this pass only
    exact_accounts: int
    accounts: int
    sent_twice: int
    unknown: int
    expected_events: int

    def exactness(self) -> str:
        return f"{self.exact_accounts}/{self.accounts} / {self.sent_twice} / {self.unknown}"

    def per_account(self) -> tuple[float, int, int]:
        values = list(self.requests.values())
        return statistics.mean(values), min(values), max(values)


def launch_shards(shards: int, env: dict[str, str], logs: Path) -> float:
    """All N partitions at once, one process each; the wall time until the last one ends."""
    started = time.perf_counter()
    children = []
    for key in shard_keys(shards):
        log = (logs / f"shard-{key.replace('/', '-of-')}.log").open("w")
        command = [
            str(VENV_BIN / "dagster"),
            *("job", "execute", "-m", "orchestration.definitions", "-j", JOB_NAME),
            *("--tags", json.dumps({"dagster/partition": key})),
        ]
        children.append((key, log, subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=log, stderr=log)))
    failed = []
    for key, log, child in children:
        if child.wait() != 0:
            failed.append(key)
        log.close()
    seconds = time.perf_counter() - started
    for key in failed:
        tail = (logs / f"shard-{key.replace('/', '-of-')}.log").read_text().splitlines()[-25:]
        print(f"shard {key} failed:\n" + "\n".join(tail), file=sys.stderr)
    if failed:
        raise SystemExit(f"shards {failed} failed")
    return seconds


def run_case(
    args: argparse.Namespace, shards: int, workdir: Path, database: str | None = None
) -> tuple[Pass, Pass]:
    stripe_args = (
        *("--connected-accounts", str(args.accounts), "--connected-invoices", str(args.invoices)),
        *("--latency-ms", str(args.latency_ms)),
    )
    home = workdir / "dagster_home"
    home.mkdir(parents=True)
    shutil.copy(REPO_ROOT / "orchestration" / "dagster.yaml", home / "dagster.yaml")
    with LocalPipeline(
        invoices=10, workdir=workdir, history_days=args.history_days, stripe_args=stripe_args
    ) as local:
        env = local.meltano_env(
            TAP_STRIPE_BILLING_ALL_CONNECTED_ACCOUNTS="true",
            STRIPE_KM_SHARDS=str(shards),
            STRIPE_KM_JOURNAL_ROOT=str(workdir / "journals"),
            DAGSTER_HOME=str(home),
        )
        env.pop("TARGET_KISSMETRICS_JOURNAL_PATH")
        if database:  # one server: the shared journal and Meltano's state, each in its own database
            from local_pipeline.postgres import create_database

            env["TARGET_KISSMETRICS_JOURNAL_URL"] = create_database(database, f"journal_n{shards}")
            env["MELTANO_DATABASE_URI"] = create_database(database, f"meltano_n{shards}")
        # Create the instance's storage once, as the webserver or daemon does before any run: N processes
        # creating a fresh SQLite instance at once race on its schema migrations.
        subprocess.run(
            [str(VENV_BIN / "dagster"), "instance", "info"], env=env, check=True, capture_output=True
        )
        accounts = connected_accounts(local)
        passes = []
        found = None
        for label in ("first", "hourly"):
            if label == "hourly":
                local.advance_hours(1)
            before = requests_by_account(local)
            seconds = launch_shards(shards, env, workdir)
            after = requests_by_account(local)
            found = exactness(local, accounts, found)
            passes.append(
                Pass(
                    seconds=seconds,
                    requests={a: after.get(a, 0) - before.get(a, 0) for a in accounts},
                    exact_accounts=found.exact_accounts,
                    accounts=found.accounts,
                    sent_twice=found.sent_twice,
                    unknown=found.unknown,
                    expected_events=found.expected_events,
                )
            )
            print(f"  N={shards} {label}: {seconds:.1f} s", flush=True)
    return passes[0], passes[1]


def report_one(args: argparse.Namespace, passes: tuple[Pass, Pass]) -> int:
    journal = "one PostgreSQL journal shared by all" if args.postgres else "a SQLite journal each"
    print(f"\n{args.shards} shards at once, {journal}:")
    for label, done in zip(("first", "hourly"), passes, strict=True):
        mean, low, high = done.per_account()
        print(
            f"| {label} run | {done.seconds:.1f} s | requests/account {mean:.1f} ({low}-{high}) | "
            f"accounts exact / sent twice / unknown: {done.exactness()} |"
        )
    exact = all(p.exact_accounts == p.accounts and p.sent_twice == 0 and p.unknown == 0 for p in passes)
    print(f"exact for every account in every run: {'yes' if exact else 'NO'}")
    return 0 if exact else 1


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--accounts", type=int, default=200)
    parser.add_argument("--invoices", type=int, default=250, help="invoices per connected account")
    parser.add_argument("--latency-ms", type=int, default=100)
    parser.add_argument("--history-days", type=int, default=30)
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--postgres", action="store_true", help="journal and state on a real PostgreSQL")
    parser.add_argument("--only-sharded", action="store_true", help="run only the N-shard case")
    args = parser.parse_args()
    print(
        f"{args.accounts} connected accounts x {args.invoices} invoices, {args.latency_ms} ms per Stripe "
        f"request; {args.shards} Dagster shards (one process each) against 1",
        flush=True,
    )
    results = {}
    with contextlib.ExitStack() as stack:
        tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-shards-"))
        database = None
        if args.postgres:
            from local_pipeline.postgres import running_postgres

            database = stack.enter_context(running_postgres())
        for shards in (args.shards,) if args.only_sharded else (1, args.shards):
            results[shards] = run_case(args, shards, Path(tmp) / f"n{shards}", database)
    if args.only_sharded:
        return report_one(args, results[args.shards])
    one, many = results[1], results[args.shards]
    rows = [
        ("first run: wall time", f"{one[0].seconds:.1f} s", f"{many[0].seconds:.1f} s"),
        ("hourly run: wall time", f"{one[1].seconds:.1f} s", f"{many[1].seconds:.1f} s"),
    ]
    for index, label in ((0, "first"), (1, "hourly")):
        mean_1, low_1, high_1 = one[index].per_account()
        mean_n, low_n, high_n = many[index].per_account()
        rows.append(
            (
                f"{label} run: Stripe requests per account (mean, min-max)",
                f"{mean_1:.1f} ({low_1}-{high_1})",
                f"{mean_n:.1f} ({low_n}-{high_n})",
            )
        )
        rows.append(
            (
                f"{label} run: accounts exact / events sent twice / unknown",
                one[index].exactness(),
                many[index].exactness(),
            )
        )
    rows.append(
        (
            "billed events expected after the hourly run",
            str(one[1].expected_events),
            str(many[1].expected_events),
        )
    )
    print(f"\n| figure | 1 shard | {args.shards} shards |\n|---|---|---|")
    for name, a, b in rows:
        print(f"| {name} | {a} | {b} |")
    print(
        f"\nwall time ratio (1 shard / {args.shards} shards): "
        f"first run {one[0].seconds / many[0].seconds:.2f}x, "
        f"hourly run {one[1].seconds / many[1].seconds:.2f}x"
    )
    exact = all(
        p.exact_accounts == p.accounts and p.sent_twice == 0 and p.unknown == 0 for p in (*one, *many)
    )
    print(f"exact for every account in every run: {'yes' if exact else 'NO'}")
    return 0 if exact else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
