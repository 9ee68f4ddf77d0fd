"""What target_kissmetrics.sdk_private relies on inside singer-sdk: fails loudly when an upgrade moves it."""

from __future__ import annotations

import inspect
import io
import signal
from contextlib import redirect_stdout
from typing import Any

from singer_sdk import Target
from singer_sdk.plugin_base import PluginBase
from target_kissmetrics.target import TargetKissmetrics


def test_the_sdk_installs_its_handlers_in_init_and_ours_replace_them(config: dict[str, Any]) -> None:
    assert "_setup_signal_handlers()" in inspect.getsource(PluginBase.__init__)
    before = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        target = TargetKissmetrics(config=config)
        with redirect_stdout(io.StringIO()):
            target.listen(io.StringIO(""))
        for sig in (signal.SIGINT, signal.SIGTERM):
            handler = signal.getsignal(sig)
            assert callable(handler)
            assert getattr(handler, "__module__", "") == "target_kissmetrics.interrupt", handler
    finally:
        for sig, handler in before.items():
            signal.signal(sig, handler)


def test_the_sdk_prints_state_only_through_write_state_message() -> None:
    source = inspect.getsource(Target.drain_all)
    assert "self._write_state_message(" in source
    assert "sys.stdout.write" not in source
    assert callable(Target._write_state_message)
