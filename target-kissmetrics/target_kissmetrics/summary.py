"""The end-of-run tally, logged as one line. Names record keys, never emails or the key."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

MAX_KEYS_PER_REASON = 20


@dataclass
class RunSummary:
    sent: int = 0
    retried: int = 0
    already_delivered: int = 0
    failed: int = 0
    dry_run: int = 0
    skipped: dict[str, list[str]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def skip(self, reason: str, stream: str, key: str) -> None:
        with self._lock:
            self.skipped.setdefault(reason, []).append(f"{stream}:{key}")

    def add(self, *, sent: int = 0, retried: int = 0, already_delivered: int = 0, failed: int = 0) -> None:
        with self._lock:
            self.sent += sent
            self.retried += retried
            self.already_delivered += already_delivered
            self.failed += failed

    def add_dry_run(self, count: int) -> None:
        with self._lock:
            self.dry_run += count

    @property
    def skipped_total(self) -> int:
        return sum(len(keys) for keys in self.skipped.values())

    def line(self) -> str:
        with self._lock:
            parts = [
                f"sent={self.sent}",
                f"retried={self.retried}",
                f"already_delivered={self.already_delivered}",
                f"skipped={self.skipped_total}",
                f"failed={self.failed}",
            ]
            if self.dry_run:
                parts.append(f"dry_run_built={self.dry_run}")
            reasons = []
            for reason, keys in sorted(self.skipped.items()):
                shown = ", ".join(keys[:MAX_KEYS_PER_REASON])
                more = len(keys) - MAX_KEYS_PER_REASON
                reasons.append(f"{reason} ({len(keys)}): {shown}" + (f" and {more} more" if more > 0 else ""))
        text = "Run summary: " + ", ".join(parts)
        if reasons:
            text += "; skipped by reason: " + "; ".join(reasons)
        return text
