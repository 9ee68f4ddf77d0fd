"""singer-sdk log lines the tap drops, each with its reason.

- ``Stream is assumed to be unsorted, progress is not resumable if interrupted`` (a WARNING, logged
  once per stream and partition per run, because the streams declare ``is_sorted = False``: Stripe lists
  newest first). It is not true of this tap: a killed first backfill resumes from its checkpoint
  (``checkpoint.py``) and the other reads from their bookmarks, with the dedupe set in state. Over a
  Connect platform it was 4 warnings per account per run (800 for 200 accounts), each forwarded to
  Dagster's event log as a warning (``orchestration/meltano_log.py``).
"""

from __future__ import annotations

import logging

SDK_LOGGER = "singer_sdk"
DROPPED_PREFIXES = ("Stream is assumed to be unsorted",)


class _DropMisleading(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not (isinstance(record.msg, str) and record.msg.startswith(DROPPED_PREFIXES))


_FILTER = _DropMisleading()


def drop_misleading_sdk_lines() -> None:
    """Install the filter on singer-sdk's logger (once, however often called)."""
    logger = logging.getLogger(SDK_LOGGER)
    if _FILTER not in logger.filters:
        logger.addFilter(_FILTER)
