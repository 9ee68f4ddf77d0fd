"""meltano.yml keeps its plugin settings in step with the plugins' own config schemas (SPEC §4)."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest
import yaml
from tap_stripe_billing.tap import TapStripeBilling
from target_kissmetrics.target import TargetKissmetrics

from stand_ins.processes import REPO_ROOT

PROJECT: dict[str, Any] = yaml.safe_load((REPO_ROOT / "meltano.yml").read_text())
PLUGINS = {
    "tap-stripe-billing": (PROJECT["plugins"]["extractors"][0], TapStripeBilling),
    "target-kissmetrics": (PROJECT["plugins"]["loaders"][0], TargetKissmetrics),
}


def _same(value: Any, default: Any) -> bool:
    """meltano.yml values against JSON-schema defaults; numbers compare as decimals (20 == 20.0)."""
    if isinstance(default, bool) or not isinstance(default, int | float):
        return bool(value == default)
    return Decimal(str(value)) == Decimal(str(default))


@pytest.mark.parametrize("name", sorted(PLUGINS))
def test_settings_match_the_config_schema(name: str) -> None:
    plugin, cls = PLUGINS[name]
    schema = cls.config_jsonschema["properties"]
    settings = {s["name"]: s for s in plugin["settings"]}
    assert list(settings) == list(schema), "same settings, same order"
    for key, prop in schema.items():
        setting = settings[key]
        if prop.get("writeOnly") or prop.get("secret"):
            assert setting == {**setting, "kind": "string", "sensitive": True}, key
        if "default" in prop:
            assert _same(setting["value"], prop["default"]), key
        else:
            assert "value" not in setting, key


@pytest.mark.parametrize("name", sorted(PLUGINS))
def test_custom_plugins_install_from_this_repository(name: str) -> None:
    plugin, _ = PLUGINS[name]
    assert plugin["namespace"] == name.replace("-", "_")
    assert plugin["pip_url"].startswith(f"-e ./{name} ")
    assert "variant" not in plugin


def test_project_needs_nothing_from_meltano_hub() -> None:
    assert PROJECT["send_anonymous_usage_stats"] is False
    assert PROJECT["project_id"]
    assert "version" not in PROJECT
    assert [job["name"] for job in PROJECT["jobs"]] == ["stripe-to-kissmetrics"]
    assert PROJECT["schedules"] == [
        {"name": "hourly-stripe-to-kissmetrics", "interval": "@hourly", "job": "stripe-to-kissmetrics"}
    ]
    assert {env["name"] for env in PROJECT["environments"]} == {"local", "prod"}


def test_no_secret_is_committed() -> None:
    text = (REPO_ROOT / "meltano.yml").read_text() + (REPO_ROOT / ".env.example").read_text()
    assert re.search(r"\b(sk|rk)_(live|test)_[A-Za-z0-9]{6,}", text) is None
    assert "TAP_STRIPE_BILLING_API_KEY=" in text and "TARGET_KISSMETRICS_API_KEY=" in text
    assert ".env" in (REPO_ROOT / ".gitignore").read_text().split()
