"""SIGINT and SIGTERM: stop safely, never pretend.

singer-sdk's own handler drains every sink again, writes the latest STATE and exits 0, although the batch
it interrupted was not delivered: Meltano then saves a bookmark past events KISSmetrics never got. Ours
does the opposite:

* The handler only records the signal (it may run between any two bytecodes of the main thread, so it
  takes no lock), except while the main thread is blocked reading input: there nothing is half-done, and
  it raises :class:`~target_kissmetrics.errors.Interrupted` at once.
* Whoever is waiting for deliveries polls :meth:`StopRequest.requested`; the transport then starts
  nothing more, requests on the wire finish, what was delivered is journaled as delivered, and
  :class:`Interrupted` ends the run: no STATE past anything undelivered, exit 130 (SIGINT) or 143
  (SIGTERM). What was journaled as pending is re-sent, with its stored bytes, by the next run.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from types import FrameType

from target_kissmetrics.errors import Interrupted

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopRequest:
    """Set by a signal handler, read by the threads that wait for deliveries."""

    def __init__(self) -> None:
        self.signum: int | None = None

    @property
    def requested(self) -> bool:
        return self.signum is not None

    def request(self, signum: int) -> None:
        if self.signum is None:
            self.signum = signum

    def error(self, detail: str) -> Interrupted:
        signum = self.signum if self.signum is not None else signal.SIGINT
        name = signal.Signals(signum).name
        return Interrupted(
            f"Interrupted by {name}: {detail}; no STATE was emitted past undelivered events, and the next "
            "run re-sends what is pending in the journal",
            signum,
        )

    def check(self, detail: str = "stopped reading input") -> None:
        """Raise :class:`Interrupted` if a signal came."""
        if self.requested:
            raise self.error(detail)


Handler = Callable[[int, FrameType | None], None]


def make_handler(
    stop: StopRequest, is_reading: Callable[[], bool], announce: Callable[[int], None]
) -> Handler:
    """The SIGINT/SIGTERM handler: record the signal; raise at once only while input is being read."""

    def handle(signum: int, frame: FrameType | None) -> None:
        first = not stop.requested
        stop.request(signum)
        if first:
            announce(signum)
        if is_reading():
            raise stop.error("stopped reading input")

    return handle
