"""Which lines of Meltano's output reach Dagster's structured log (event log storage, the run's log view).

Meltano prints every line of the tap and the target (stripe-python alone logs one line per request:
~13,000 lines for a shard's first run over 200 accounts). Each of them as a Dagster log event bloats the
event log storage and the UI, so the op writes the whole output, redacted, to its captured stderr
(Dagster's compute logs, the run's "stderr" tab) and logs as events only what an operator acts on:

- warnings and errors: Meltano's own ``[warning ]``/``[error ]``/``[critical]`` lines, a plugin line
  at ``WARNING``/``ERROR``/``CRITICAL`` level, and one-line errors (``SomethingError: …``);
- the run summaries: the tap's ``<stream>: run summary: …`` per stream and the target's
  ``Run summary: sent=…``, and Meltano's ``Block run completed`` / ``Run completed`` / ``… could not be
  completed`` lines.
"""

from __future__ import annotations

import re
from enum import Enum

# Meltano's console renderer: `2026-…Z [warning  ] …`; a plugin's own level as the SDK/stdlib print it
# (`| WARNING  |`, `WARNING:name:`, ` WARNING `); a Python exception's last line (`ValueError: …`).
_MELTANO_LEVEL = re.compile(r"\[(warning|error|critical|exception)\s*\]")
_PLUGIN_LEVEL = re.compile(r"(?:^|[\s|\[])(WARNING|WARN|ERROR|CRITICAL|FATAL)(?:[\s|:\]]|$)")
_ONE_LINE_ERROR = re.compile(r"(?:^|\s)(?:[A-Za-z_][\w.]*)?(?:Error|Exception|Failure):\s")
_SUMMARY = re.compile(r"run summary:|\brun completed|could not be completed", re.I)


class Kind(Enum):
    """Where a line goes besides the compute log."""

    NONE = "none"  # compute log only
    SUMMARY = "summary"  # Dagster log, info
    PROBLEM = "problem"  # Dagster log, warning


def classify(line: str) -> Kind:
    if _MELTANO_LEVEL.search(line) or _PLUGIN_LEVEL.search(line) or _ONE_LINE_ERROR.search(line):
        return Kind.PROBLEM
    if _SUMMARY.search(line):
        return Kind.SUMMARY
    return Kind.NONE
