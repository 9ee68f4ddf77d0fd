"""The sharded job, its op and its hourly schedule.

One Dagster run per shard ``K/N`` (a static partition). Each run calls ``meltano run`` for its shard with
its own state id; Dagster's run launcher starts each run in its own process, so shards run side by side.
"""

# No `from __future__ import annotations`: Dagster reads the op's annotations as real types.
import os
import sys
from collections.abc import Iterator
from pathlib import Path

from dagster import (
    Backoff,
    ConfigurableResource,
    Failure,
    Jitter,
    JobDefinition,
    OpExecutionContext,
    RetryPolicy,
    RunRequest,
    ScheduleDefinition,
    ScheduleEvaluationContext,
    StaticPartitionsDefinition,
    in_process_executor,
    job,
    op,
    schedule,
)

from .meltano_log import Kind, classify
from .meltano_run import ShardRun, run_streaming
from .shards import shard_keys

REPO_ROOT = Path(__file__).resolve().parents[1]
JOB_NAME = "stripe_to_kissmetrics_sharded"
# meltano.yml's schedule is '@hourly'; Meltano prints it as this cron (`meltano schedule list`).
HOURLY = "0 * * * *"
DEFAULT_RETRY = RetryPolicy(max_retries=3, delay=60, backoff=Backoff.EXPONENTIAL, jitter=Jitter.PLUS_MINUS)


class MeltanoProject(ConfigurableResource):
    """Where the Meltano project is and how to call it. No secrets here: they come from the environment."""

    project_dir: str = str(REPO_ROOT)
    meltano_bin: str = str(Path(sys.executable).parent / "meltano")
    environment: str = ""
    journal_root: str = ""

    def shard_run(self, shard: str) -> ShardRun:
        return ShardRun(
            shard=shard,
            project_dir=Path(self.project_dir),
            meltano_bin=self.meltano_bin,
            environment=self.environment,
            journal_root=self.journal_root,
        )


@op(tags={"kind": "meltano"})
def meltano_run_shard(context: OpExecutionContext, meltano: MeltanoProject) -> None:
    """``meltano run --state-id-suffix shard-K-of-N tap-stripe-billing target-kissmetrics`` for this
    partition, with ``TAP_STRIPE_BILLING_ACCOUNT_SHARD=K/N``; fails on a non-zero exit."""
    shard = context.partition_key
    run = meltano.shard_run(shard)
    context.log.info(f"shard {shard}: meltano run, state id suffix {run.suffix}")

    def on_line(line: str) -> None:
        # Every (redacted) line to the op's captured stderr, Dagster's compute log; to Dagster's event log
        # only warnings, errors and the run summaries (orchestration.meltano_log).
        print(line, file=sys.stderr)
        kind = classify(line)
        if kind is Kind.PROBLEM:
            context.log.warning(line)
        elif kind is Kind.SUMMARY:
            context.log.info(line)

    code, tail = run_streaming(run.command(), run.environ(os.environ), Path(meltano.project_dir), on_line)
    sys.stderr.flush()
    if code != 0:
        raise Failure(
            description=f"meltano run for shard {shard} exited with {code}",
            metadata={"shard": shard, "exit_code": code, "last_lines": "\n".join(tail[-15:])},
        )


def build_job(shards: int, retry_policy: RetryPolicy = DEFAULT_RETRY) -> JobDefinition:
    """The job for N shards: partitions ``0/N … N-1/N``, the op retried by ``retry_policy``."""

    @job(
        name=JOB_NAME,
        partitions_def=StaticPartitionsDefinition(shard_keys(shards)),
        op_retry_policy=retry_policy,
        description=f"Stripe billing to KISSmetrics through Meltano, one run per account shard (N={shards}).",
        tags={"kind": "meltano"},
        # One op per run: the run is already its own process under Dagster's run launcher (or
        # `dagster job execute`), so the op runs in it instead of in one more child process.
        executor_def=in_process_executor,
    )
    def sharded() -> None:
        meltano_run_shard()

    return sharded


def build_schedule(sharded: JobDefinition) -> ScheduleDefinition:
    """Every hour, one run per shard. The run key makes a re-evaluated tick launch nothing twice."""
    partitions = sharded.partitions_def
    assert partitions is not None

    @schedule(
        job=sharded,
        cron_schedule=HOURLY,
        execution_timezone="UTC",
        name=f"{JOB_NAME}_hourly",
    )
    def hourly(context: ScheduleEvaluationContext) -> Iterator[RunRequest]:
        tick = context.scheduled_execution_time
        stamp = tick.isoformat() if tick else "manual"
        for key in partitions.get_partition_keys():
            yield RunRequest(run_key=f"{key}@{stamp}", partition_key=key)

    return hourly
