"""Every use the tap makes of singer-sdk's private API, each with its reason.

singer-sdk keeps these names private, so a minor release may change them without notice. They are
gathered here so that one place says what the tap relies on, and ``tests/tap/test_sdk_private.py``
fails loudly (naming the entry) when an upgrade changes one of them.

- ``PluginBase._validate_config(self, *, raise_errors=True) -> list[str]`` (overridden in ``tap.py``):
  the one hook singer-sdk calls with the config at construction, before any stream exists or any
  request is made. The tap runs its own checks there first, so that a missing or refused setting ends
  the run with one clear line instead of the SDK's multi-line schema report (or a traceback later).
- The state keys singer-sdk writes into a stream's state during a sync (``singer_sdk.helpers._state``:
  ``PROGRESS_MARKERS``, ``SIGNPOST_MARKER``, ``STARTING_MARKER``): ``state.finalize`` removes them at
  the end of a complete run, so that the SDK's own finalisation (which would promote the largest
  replication value emitted) leaves the tap's bookmark (the run's upper bound) alone.
- ``Stream._write_state_message(self)`` and ``Stream.state_manager.is_flushed`` (called in ``base.py``):
  a first backfill writes a STATE when a checkpoint is due (``checkpoint.py``), not only every
  ``STATE_MSG_FREQUENCY`` records; ``is_flushed = False`` makes the writer write even when no record came
  since its last STATE.
"""

from __future__ import annotations

# (class, method name): private singer-sdk hooks the tap overrides.
OVERRIDDEN_HOOKS = (("singer_sdk.plugin_base.PluginBase", "_validate_config"),)

# (class, method name): private singer-sdk methods the tap calls.
CALLED_METHODS = (("singer_sdk.streams.core.Stream", "_write_state_message"),)

# Keys singer-sdk writes into stream state during a sync, dropped when the tap writes its end-of-run state.
SDK_TRANSIENT_STATE_KEYS = ("progress_markers", "replication_key_signpost", "starting_replication_value")
