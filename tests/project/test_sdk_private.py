"""singer-sdk's private API, as each package uses it (``sdk_private.py``): fails loudly, naming the entry,
when an SDK upgrade changes one of them. Pinned singer-sdk: constraints.txt."""

from __future__ import annotations

import dataclasses
import importlib
import inspect

import pytest
from singer_sdk.helpers import _state as sdk_state
from tap_stripe_billing import sdk_private as tap_private
from target_kissmetrics import sdk_private as target_private

from stand_ins.processes import REPO_ROOT

# Each private hook the packages override, with the parameters the override relies on.
EXPECTED_SIGNATURES = {
    ("singer_sdk.plugin_base.PluginBase", "_validate_config"): ["self", "raise_errors"],
    ("singer_sdk.target_base.Target", "_process_record_message"): ["self", "message_dict"],
    ("singer_sdk.sinks.core.Sink", "_parse_timestamps_in_record"): ["self", "record", "schema", "treatment"],
}


def _resolve(dotted: str) -> type:
    module, _, name = dotted.rpartition(".")
    return getattr(importlib.import_module(module), name)  # type: ignore[no-any-return]


@pytest.mark.parametrize("hook", [*tap_private.OVERRIDDEN_HOOKS, *target_private.OVERRIDDEN_HOOKS])
def test_overridden_private_hooks_still_exist_with_the_same_parameters(hook: tuple[str, str]) -> None:
    cls = _resolve(hook[0])
    method = getattr(cls, hook[1], None)
    assert method is not None, f"singer-sdk no longer has {hook[0]}.{hook[1]}: see sdk_private.py"
    assert list(inspect.signature(method).parameters) == EXPECTED_SIGNATURES[hook], (
        f"singer-sdk changed {hook[0]}.{hook[1]}'s parameters: see sdk_private.py"
    )


@pytest.mark.parametrize("called", tap_private.CALLED_METHODS)
def test_private_methods_the_tap_calls_still_exist(called: tuple[str, str]) -> None:
    method = getattr(_resolve(called[0]), called[1], None)
    assert method is not None and list(inspect.signature(method).parameters) == ["self"], (
        f"singer-sdk changed {called[0]}.{called[1]}: see tap_stripe_billing/sdk_private.py"
    )
    source = inspect.getsource(method)
    assert "state_manager.is_flushed" in source, "the STATE writer no longer reads is_flushed"


def test_the_sdk_still_writes_the_state_keys_the_tap_drops() -> None:
    assert set(tap_private.SDK_TRANSIENT_STATE_KEYS) == {
        sdk_state.PROGRESS_MARKERS,
        sdk_state.SIGNPOST_MARKER,
        sdk_state.STARTING_MARKER,
    }, "singer-sdk renamed its transient state keys: see tap_stripe_billing/sdk_private.py"


def test_config_input_and_datelike_helper_keep_their_shape() -> None:
    fields = [f.name for f in dataclasses.fields(target_private._ConfigInput)]
    assert fields == ["config", "parse_env"], "singer-sdk changed _ConfigInput: see sdk_private.py"
    assert target_private.get_datelike_property_type({"type": "string", "format": "date-time"}) == "date-time"
    assert target_private.get_datelike_property_type({"type": ["string", "null"], "format": "date"}) == "date"
    assert target_private.get_datelike_property_type({"type": "string"}) is None


def test_the_packages_import_private_sdk_names_only_through_sdk_private() -> None:
    """A new use of singer-sdk's private API belongs in sdk_private.py, with its reason."""
    for package in ("tap-stripe-billing/tap_stripe_billing", "target-kissmetrics/target_kissmetrics"):
        for path in sorted((REPO_ROOT / package).glob("*.py")):
            if path.name == "sdk_private.py":
                continue
            for number, line in enumerate(path.read_text().splitlines(), 1):
                stripped = line.strip()
                if stripped.startswith(("from singer_sdk", "import singer_sdk")):
                    assert "._" not in stripped and " _" not in stripped, f"{path}:{number}: {stripped}"
