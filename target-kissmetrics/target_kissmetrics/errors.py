"""Exceptions the target raises. Their messages are single lines, never carry the key or an email."""

from __future__ import annotations


class TargetKissmetricsError(Exception):
    """Base class: the run stops, the CLI prints ``str(exc)`` as one error line and exits 1."""


class ConfigError(TargetKissmetricsError):
    """Bad configuration (settings, mappings, journal path): fatal, nothing is sent."""


class InvalidInput(TargetKissmetricsError):
    """The Singer input is broken (not JSON, a RECORD before its SCHEMA, a record that does not match its
    schema): fatal, the run stops there and no STATE is emitted past it. Messages never quote the line."""


class DeliveryFailed(TargetKissmetricsError):
    """Some events could not be delivered after retries; no STATE is emitted past them."""


class JournalError(TargetKissmetricsError):
    """The delivery journal could not be written (a full disk, an I/O error): the run stops, no STATE is
    emitted past the events involved, and those left ``pending`` are re-sent by the next run."""


class Interrupted(TargetKissmetricsError):
    """SIGINT or SIGTERM: nothing new was sent, requests in flight finished, no STATE past what was not
    delivered. The CLI exits 128 + the signal's number (130, 143), as a shell does."""

    def __init__(self, message: str, signum: int) -> None:
        super().__init__(message)
        self.exit_code = 128 + signum


class SkipRecord(Exception):
    """One record cannot become an event (bad data): it is skipped, counted and named in the summary."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
