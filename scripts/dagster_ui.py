"""Dagster's web UI on the sharded job, against the local stand-ins (run it through `scripts/dagster.sh`).

Starts the Stripe stand-in as a Connect platform with N connected accounts and the KISSmetrics stand-in,
points Meltano at them through the environment (keys included: never through Dagster config), keeps
Dagster's instance, Meltano's system database and the journals in `.dagster/`, and serves
`dagster dev -m orchestration.definitions` on 127.0.0.1. In the UI: Jobs → stripe_to_kissmetrics_sharded →
Materialize/Launch a backfill of all shards, or turn on the hourly schedule.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import subprocess
import sys
from types import FrameType

from local_pipeline import VENV_BIN, LocalPipeline
from stand_ins.processes import REPO_ROOT

CONNECTED_ACCOUNTS_ARG = "--connected-accounts"


def _stop(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # SIGTERM as Ctrl-C: stop dagster dev (and its runs), then the stand-ins


def _signal_group(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # the group is gone already
        os.killpg(pid, signum)


def main() -> int:
    signal.signal(signal.SIGTERM, _stop)
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--accounts", type=int, default=20, help="connected accounts on the platform")
    parser.add_argument("--invoices", type=int, default=100, help="invoices per connected account")
    parser.add_argument("--shards", type=int, default=4, help="N: the job's partitions 0/N … N-1/N")
    parser.add_argument("--port", type=int, default=3000, help="web UI port on 127.0.0.1")
    args = parser.parse_args()

    workdir = REPO_ROOT / ".dagster"
    shutil.rmtree(workdir, ignore_errors=True)
    home = workdir / "home"
    home.mkdir(parents=True)
    shutil.copy(REPO_ROOT / "orchestration" / "dagster.yaml", home / "dagster.yaml")
    stripe_args = (CONNECTED_ACCOUNTS_ARG, str(args.accounts))
    platform = LocalPipeline(
        invoices=args.invoices, workdir=workdir, history_days=30, stripe_args=stripe_args
    )
    with platform as local:
        env = local.meltano_env(
            TAP_STRIPE_BILLING_ALL_CONNECTED_ACCOUNTS="true",
            DAGSTER_HOME=str(home),
            STRIPE_KM_SHARDS=str(args.shards),
        )
        # Each shard gets its own journal under .dagster/journals (orchestration.meltano_run).
        env.pop("TARGET_KISSMETRICS_JOURNAL_PATH", None)
        env["STRIPE_KM_JOURNAL_ROOT"] = str(workdir / "journals")
        print(f"Stripe stand-in (Connect platform, {args.accounts} accounts): {local.stripe.url}")
        received = f"{local.kissmetrics.url}/_standin/summary"
        print(f"KISSmetrics stand-in: {local.kissmetrics.url}  (what it received: {received})")
        print(f"Dagster web UI: http://127.0.0.1:{args.port}  (Ctrl-C stops everything)", flush=True)
        command = [
            str(VENV_BIN / "dagster"),
            *("dev", "-m", "orchestration.definitions", "-h", "127.0.0.1", "-p", str(args.port)),
        ]
        # Its own process group: on Ctrl-C or SIGTERM the whole group (webserver, daemon, code server,
        # runs and their meltano processes) gets SIGINT, then SIGKILL whatever is left after a minute.
        child = subprocess.Popen(command, cwd=REPO_ROOT, env=env, start_new_session=True)  # noqa: S603
        try:
            return child.wait()
        except KeyboardInterrupt:
            _signal_group(child.pid, signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(timeout=60)
            _signal_group(child.pid, signal.SIGKILL)
            child.wait()
            return 130


if __name__ == "__main__":
    sys.exit(main())
