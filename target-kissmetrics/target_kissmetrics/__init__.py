"""target-kissmetrics: a Singer target that delivers records as KISSmetrics events."""

from __future__ import annotations

from importlib import metadata

try:
    __version__ = metadata.version("target-kissmetrics")
except metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"
