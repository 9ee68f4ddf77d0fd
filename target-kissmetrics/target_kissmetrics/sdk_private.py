"""Every use the target makes of singer-sdk's private API, each with its reason.

singer-sdk keeps these names private, so a minor release may change them without notice. They are
gathered here so that one place says what the target relies on, and ``tests/project/test_sdk_private.py``
fails loudly (naming the entry) when an upgrade changes one of them.

- ``_ConfigInput`` (``singer_sdk.plugin_base``; fields ``config``, ``parse_env``): the type of the
  ``--config`` input singer-sdk's CLI hands to ``invoke``. ``TargetKissmetrics.invoke`` takes it to
  construct the target itself, so that a refused setting ends the run with one clear line.
- ``get_datelike_property_type`` (``singer_sdk.helpers._typing``): the SDK's own test of which schema
  properties are date-like, so that the sink's fast path parses exactly the fields the SDK would.
- Overridden hooks (see ``OVERRIDDEN_HOOKS``): ``Target._process_record_message`` (to name the stream
  and record key when a record fails validation) and ``Sink._parse_timestamps_in_record`` (to parse
  only a record's date-like fields: the SDK's full path is the target's largest per-record cost).
"""

from __future__ import annotations

from singer_sdk.helpers._typing import get_datelike_property_type
from singer_sdk.plugin_base import _ConfigInput

# (class, method name): private singer-sdk hooks the target overrides.
OVERRIDDEN_HOOKS = (
    ("singer_sdk.target_base.Target", "_process_record_message"),
    ("singer_sdk.sinks.core.Sink", "_parse_timestamps_in_record"),
)

__all__ = ["OVERRIDDEN_HOOKS", "_ConfigInput", "get_datelike_property_type"]
