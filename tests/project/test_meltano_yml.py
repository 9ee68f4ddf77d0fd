"""meltano.yml keeps its plugin settings in step with the plugins' own config schemas (SPEC §4)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from tap_stripe_billing.tap import TapStripeBilling
from target_kissmetrics.target import TargetKissmetrics

from scripts.settings_tables import SDK_BUILT_INS
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
    # singer-sdk appends its built-in settings to the class schema once a plugin has been instantiated.
    schema = {k: v for k, v in cls.config_jsonschema["properties"].items() if k not in SDK_BUILT_INS}
    settings = {s["name"]: s for s in plugin["settings"]}
    assert list(settings) == list(schema), "same settings, same order"
    for key, prop in schema.items():
        setting = settings[key]
        if prop.get("writeOnly") or prop.get("secret"):  # a key, or an object of keys (account_api_keys)
            secret_kind = "object" if "object" in prop.get("type", []) else "string"
            assert setting == {**setting, "kind": secret_kind, "sensitive": True}, key
        # A default is written once, in the plugin's schema; meltano.yml may mirror it (never differ).
        if "value" in setting:
            assert "default" in prop and _same(setting["value"], prop["default"]), key


def test_tap_defaults_live_in_its_schema_only() -> None:
    """The tap's defaults are not restated in meltano.yml (Meltano needs none of them)."""
    plugin, _ = PLUGINS["tap-stripe-billing"]
    assert [s["name"] for s in plugin["settings"] if "value" in s] == []


@pytest.mark.parametrize("name", sorted(PLUGINS))
def test_custom_plugins_install_from_this_repository(name: str) -> None:
    plugin, _ = PLUGINS[name]
    assert plugin["namespace"] == name.replace("-", "_")
    extra = "[postgres]" if name == "target-kissmetrics" else ""  # psycopg, for a journal_url on PostgreSQL
    assert plugin["pip_url"].startswith(f"-e ./{name}{extra} ")
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


@pytest.mark.slow  # runs meltano
def test_fractional_settings_from_the_environment_reach_the_plugins(tmp_path: Path) -> None:
    """Meltano 4.4.1 crashes on `kind: decimal` values set in the environment ("Decimal is not JSON
    serializable"), so those settings are strings in meltano.yml and the plugins accept numeric strings."""
    env = {
        **os.environ,
        "MELTANO_DATABASE_URI": f"sqlite:///{tmp_path / 'meltano.db'}",
        "TAP_STRIPE_BILLING_API_KEY": "sk_live_" + "x" * 24,
        "TAP_STRIPE_BILLING_MAX_REQUESTS_PER_SECOND": "12.5",
        "TARGET_KISSMETRICS_API_KEY": "km-key",
        "TARGET_KISSMETRICS_TIMEOUT_SECONDS": "2.5",
        "TARGET_KISSMETRICS_BACKOFF_BASE_SECONDS": "0.25",
    }
    meltano = str(Path(sys.executable).parent / "meltano")
    for plugin, key, value in (
        ("tap-stripe-billing", "max_requests_per_second", "12.5"),
        ("target-kissmetrics", "timeout_seconds", "2.5"),
    ):
        listed = subprocess.run(
            [meltano, "config", "print", plugin],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert listed.returncode == 0, listed.stderr[-2000:]
        assert json.loads(listed.stdout)[key] in (value, float(value))
    about = subprocess.run(
        [meltano, "invoke", "target-kissmetrics", "--about"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert about.returncode == 0, about.stderr[-2000:]
    assert "target-kissmetrics" in about.stdout
