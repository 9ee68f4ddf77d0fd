"""The code location: ``dagster dev -m orchestration.definitions`` (N: ``STRIPE_KM_SHARDS``, default 4)."""

from __future__ import annotations

from dagster import Definitions

from .jobs import MeltanoProject, build_job, build_schedule
from .shards import shard_count

sharded_job = build_job(shard_count())
hourly_schedule = build_schedule(sharded_job)

defs = Definitions(
    jobs=[sharded_job],
    schedules=[hourly_schedule],
    resources={"meltano": MeltanoProject()},
)
