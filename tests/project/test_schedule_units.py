"""The hourly schedule becomes a real crontab line / systemd timer, read from Meltano itself."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from scripts.schedule_units import cron_lines, load_schedules, on_calendar, systemd_units
from stand_ins.processes import REPO_ROOT

LISTING = {
    "schedules": {
        "job": [
            {
                "name": "hourly-stripe-to-kissmetrics",
                "interval": "@hourly",
                "cron_interval": "0 * * * *",
                "env": {},
                "job": {"name": "stripe-to-kissmetrics", "tasks": ["tap-stripe-billing target-kissmetrics"]},
            }
        ],
        "elt": [],
    }
}


def test_cron_line_runs_the_schedule_hourly_in_the_project() -> None:
    [line] = cron_lines(
        load_schedules(json.dumps(LISTING)), Path("/srv/my project"), "/venv/bin/meltano", "prod"
    )
    assert line.startswith("0 * * * * cd '/srv/my project' && /venv/bin/meltano --environment=prod ")
    assert "schedule run hourly-stripe-to-kissmetrics >> " in line
    assert line.endswith(" 2>&1")


def test_systemd_timer_is_hourly_and_persistent() -> None:
    units = systemd_units(load_schedules(json.dumps(LISTING)), Path("/srv/p"), "/venv/bin/meltano", "prod")
    assert set(units) == {"hourly-stripe-to-kissmetrics.service", "hourly-stripe-to-kissmetrics.timer"}
    timer = units["hourly-stripe-to-kissmetrics.timer"]
    assert "OnCalendar=hourly\n" in timer
    assert "Persistent=true\n" in timer
    assert "schedule run hourly-stripe-to-kissmetrics" in units["hourly-stripe-to-kissmetrics.service"]


def test_on_calendar_translates_plain_cron_and_refuses_the_rest() -> None:
    assert (
        on_calendar({"name": "x", "interval": "15 3 * * *", "cron_interval": "15 3 * * *"}) == "*-*-* 3:15:00"
    )
    with pytest.raises(ValueError, match="use --cron"):
        on_calendar({"name": "x", "interval": "0 0 * * 1", "cron_interval": "0 0 * * 1"})


@pytest.mark.slow  # runs meltano
def test_reads_the_real_meltano_schedule_list(tmp_path: Path) -> None:
    env = {**os.environ, "MELTANO_DATABASE_URI": f"sqlite:///{tmp_path / 'meltano.db'}"}
    result = subprocess.run(
        [
            sys.executable,
            "scripts/schedule_units.py",
            "--meltano",
            str(Path(sys.executable).parent / "meltano"),
        ],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.startswith("0 * * * * cd ")
    assert "--environment=prod schedule run hourly-stripe-to-kissmetrics" in result.stdout
