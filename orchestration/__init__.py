"""The Dagster project: the Meltano pipeline, one run per account shard, hourly.

``orchestration.definitions`` is the code location (``dagster dev -m orchestration.definitions``);
``scripts/dagster.sh`` serves it against the local stand-ins. Installed by ``orchestration/install.sh``.
"""
