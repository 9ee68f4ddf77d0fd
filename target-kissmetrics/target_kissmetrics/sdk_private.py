"""What this target relies on inside singer-sdk beyond its public API, each with its reason.

tests/target/test_sdk_private.py and tests/project/test_sdk_private.py fail loudly when an SDK upgrade
changes any of it. Besides the two below:

- ``_ConfigInput`` (``singer_sdk.plugin_base``; fields ``config``, ``parse_env``): the type of the
  ``--config`` input singer-sdk's CLI hands to ``invoke``. ``TargetKissmetrics.invoke`` takes it to
  construct the target itself, so that a refused setting ends the run with one clear line.
- ``get_datelike_property_type`` (``singer_sdk.helpers._typing``): the SDK's own test of which schema
  properties are date-like, so that the sink's fast path parses exactly the fields the SDK would.
- Overridden hooks (``OVERRIDDEN_HOOKS``): ``Target._process_record_message`` (to name the stream and
  record key when a record fails validation) and ``Sink._parse_timestamps_in_record`` (to parse only a
  record's date-like fields: the SDK's full path is the target's largest per-record cost).
"""

from __future__ import annotations

import signal
import threading

from singer_sdk import Target
from singer_sdk.helpers._typing import get_datelike_property_type
from singer_sdk.plugin_base import _ConfigInput

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


# (class, method name): private singer-sdk hooks the target overrides.
OVERRIDDEN_HOOKS = (
    ("singer_sdk.target_base.Target", "_process_record_message"),
    ("singer_sdk.sinks.core.Sink", "_parse_timestamps_in_record"),
)

__all__ = [
    "OVERRIDDEN_HOOKS",
    "StateGate",
    "_ConfigInput",
    "get_datelike_property_type",
    "replace_termination_handlers",
]
