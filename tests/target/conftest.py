"""Fixtures for the target tests: a KISSmetrics stand-in, configs, in-process and subprocess runs."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from target_kissmetrics.target import TargetKissmetrics

from stand_ins.kissmetrics import KissmetricsStandIn
from tests.target.singer_input import KEY

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def standin() -> Iterator[KissmetricsStandIn]:
    with KissmetricsStandIn(api_key=KEY) as server:
        yield server  # type: ignore[misc]


@pytest.fixture
def config(standin: KissmetricsStandIn, tmp_path: Path) -> dict[str, Any]:
    return {
        "api_key": KEY,
        "tracking_url": standin.url,
        "journal_path": str(tmp_path / "journal.sqlite"),
        "backoff_base_seconds": 0.01,
        "timeout_seconds": 2,
    }


@dataclass
class RunResult:
    returncode: int
    stdout: str
    stderr: str

    @property
    def states(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stdout.splitlines() if line.strip()]


def run_in_process(config: dict[str, Any], singer_input: str) -> list[str]:
    """Run the target in this process; return the STATE lines it wrote to stdout."""
    target = TargetKissmetrics(config=config)
    out = io.StringIO()
    with redirect_stdout(out):
        target.listen(io.StringIO(singer_input))
    return [line for line in out.getvalue().splitlines() if line.strip()]


def run_cli(
    config: dict[str, Any],
    singer_input: str,
    tmp_path: Path,
    timeout: float = 60,
    env_extra: dict[str, str] | None = None,
) -> RunResult:
    """Run ``target-kissmetrics`` as a separate process, the way Meltano does."""
    config_path = tmp_path / "target-config.json"
    config_path.write_text(json.dumps(config))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TARGET_KISSMETRICS_", "MELTANO_"))}
    env["PYTHONPATH"] = str(ROOT)
    env.update(env_extra or {})
    process = subprocess.run(
        [sys.executable, "-m", "target_kissmetrics.target", "--config", str(config_path)],
        input=singer_input,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=tmp_path,
        env=env,
        check=False,
    )
    return RunResult(process.returncode, process.stdout, process.stderr)
