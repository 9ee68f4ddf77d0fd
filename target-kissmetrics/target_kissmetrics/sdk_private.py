"""What this target relies on inside singer-sdk beyond its public API, each with its reason.

tests/target/test_sdk_private.py fails loudly when an SDK upgrade changes any of it.
"""

from __future__ import annotations

import signal
import threading

from singer_sdk import Target

from target_kissmetrics.interrupt import SIGNALS, Handler


def replace_termination_handlers(handler: Handler) -> None:
    """Put ``handler`` in place of singer-sdk's SIGINT/SIGTERM handler.

    ``PluginBase.__init__`` installs ``_handle_termination`` for both signals (main thread only); the
    Target's version drains every sink again, writes the latest STATE and exits 0, which saves a bookmark
    past undelivered events. Called at the end of our ``__init__``, after the SDK's, so ours wins.
    """
    if threading.current_thread() is threading.main_thread():
        for signum in SIGNALS:
            signal.signal(signum, handler)


class StateGate(Target):
    """A public switch in front of ``Target._write_state_message``, the one place the SDK prints STATE.

    The SDK calls it from ``drain_all()`` once every sink has drained. A dry run must not print STATE:
    Meltano would save the bookmark and the real run after it would send nothing.
    """

    def state_may_be_written(self) -> bool:
        return True

    def _write_state_message(self, state: dict) -> None:
        if self.state_may_be_written():
            super()._write_state_message(state)
