"""Settings refused up front: the CLI exits non-zero with one clear line and never prints the key."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from tap_stripe_billing.errors import ConfigError
from tap_stripe_billing.settings import Settings

pytestmark = pytest.mark.slow  # the tap's executable as a process

EXE = Path(sys.executable).parent / "tap-stripe-billing"


def run_cli(tmp_path: Path, config: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    return subprocess.run(
        [str(EXE), "--config", str(path)], capture_output=True, text=True, timeout=60, check=False
    )


def last_line(text: str) -> str:
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1] if lines else ""


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({}, "api_key is missing or empty"),
        ({"api_key": "   "}, "api_key is missing or empty"),
        ({"api_key": "pk_live_51Publishable0000XYZ"}, "publishable key"),
        ({"api_key": "sk_test_51TestKey000000XYZ"}, "test-mode key"),
        ({"api_key": "rk_test_51TestKey000000XYZ"}, "test-mode key"),
        ({"api_key": "sk_live_51LiveKey000000XYZ", "api_url": "http://stripe.example.com"}, "plain http"),
        ({"api_key": "hello"}, "does not look like a Stripe"),
        (
            {"api_key": "sk_live_51LiveKey000000XYZ", "batch_config": {"encoding": {"format": "jsonl"}}},
            "batch_config is not supported",
        ),
    ],
)
def test_refused_settings(config: dict[str, Any], expected: str) -> None:
    with pytest.raises(ConfigError, match=expected):
        Settings.from_config(config)


def test_accepted_settings() -> None:
    Settings.from_config(
        {"api_key": "sk_test_x", "allow_test_mode": True, "api_url": "http://127.0.0.1:1234"}
    )
    Settings.from_config({"api_key": "rk_live_x", "api_url": "http://localhost:9"})
    Settings.from_config({"api_key": "sk_live_x", "api_url": "http://[::1]:9"})


def test_the_tap_does_not_offer_batch_messages() -> None:
    """BATCH files would bypass the exactly-once loop, and the target reads RECORD messages only."""
    about = subprocess.run(
        [str(EXE), "--about", "--format=json"], capture_output=True, text=True, timeout=60, check=True
    )
    info = json.loads(about.stdout)
    assert "batch" not in info["capabilities"]
    assert "batch_config" not in info["settings"]["properties"]


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"api_key": "pk_live_51Publishable0000XYZ"}, "publishable key"),
        ({"api_key": "sk_test_51TestKey000000XYZ"}, "test-mode key"),
        ({}, "api_key is missing or empty"),
    ],
)
def test_cli_exits_with_one_line(tmp_path: Path, config: dict[str, Any], expected: str) -> None:
    result = run_cli(tmp_path, config)
    assert result.returncode != 0
    assert result.stdout == ""
    assert expected in last_line(result.stderr)
    assert "Traceback" not in result.stderr
    key = config.get("api_key")
    if key:
        assert key not in result.stderr
        assert key[8:] not in result.stderr
