"""The hourly schedule becomes a real crontab line / systemd timer, read from Meltano itself."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from scripts.schedule_units import cron_lines, load_schedules, main, on_calendar, systemd_units
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
    assert line.startswith("0 * * * * cd '/srv/my project' && export PATH=")
    assert "/venv/bin/meltano --environment=prod schedule run hourly-stripe-to-kissmetrics >> " in line
    assert line.endswith(" 2>&1")
    assert "%" not in line  # cron turns % into a newline


def test_systemd_timer_is_hourly_and_persistent() -> None:
    units = systemd_units(
        load_schedules(json.dumps(LISTING)), Path("/srv/p"), "/venv/bin/meltano", "prod", user="stripe-km"
    )
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


def test_systemd_service_has_a_user_a_timeout_and_a_private_umask() -> None:
    units = systemd_units(
        load_schedules(json.dumps(LISTING)), Path("/srv/p"), "/venv/bin/meltano", "prod", user="stripe-km"
    )
    service = units["hourly-stripe-to-kissmetrics.service"]
    assert "\nUser=stripe-km\n" in service
    assert "\nTimeoutStartSec=55min\n" in service  # below the hourly period
    assert "\nUMask=0077\n" in service


def test_systemd_units_refuse_root_unless_asked(tmp_path: Path) -> None:
    listing = tmp_path / "schedules.json"
    listing.write_text(json.dumps(LISTING))
    args = ["--systemd", "--from-file", str(listing), "--project", str(tmp_path)]
    if tmp_path.stat().st_uid == 0:
        assert main(args) == 2  # a root-owned project folder needs an explicit --user
    else:
        assert main(args) == 0
    assert main([*args, "--user", "root"]) == 0


# -- the generated units, run for real ------------------------------------------------------------------
FAKE_MELTANO = """#!/bin/sh
# Stands in for meltano: shows where it ran, with what, and with which umask and environment.
echo "cwd=$(pwd) args=$* umask=$(umask) path=$(printenv PATH)"
echo "to stderr" >&2
"""


def cron_command_of(line: str) -> str:
    """What cron hands to /bin/sh: the line without its five schedule fields."""
    return line.split(" ", 5)[5]


def test_crontab_line_runs_under_sh_in_an_empty_environment(tmp_path: Path) -> None:
    project = tmp_path / "my project"
    project.mkdir()
    fake = tmp_path / "fake-meltano"
    fake.write_text(FAKE_MELTANO)
    fake.chmod(0o755)
    [line] = cron_lines(load_schedules(json.dumps(LISTING)), project, str(fake), "prod")
    command = cron_command_of(line)
    log = project / ".meltano" / "logs" / "hourly-stripe-to-kissmetrics.cron.log"

    def run() -> None:
        done = subprocess.run(
            ["env", "-i", "/bin/sh", "-c", command], capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout == done.stderr == ""  # everything went to the log, nothing to cron mail

    run()  # .meltano/logs does not exist yet
    text = log.read_text()
    assert (
        f"cwd={project} args=--environment=prod schedule run hourly-stripe-to-kissmetrics umask=0077" in text
    )
    assert "to stderr" in text
    run()
    assert log.read_text().count("to stderr") == 2  # appended

    # Bounded: past 10 MiB the log moves to .1 (one previous log kept) and a new one starts.
    with log.open("a") as handle:
        handle.write("x" * (10 * 1024 * 1024))
    run()
    assert log.read_text().count("to stderr") == 1
    assert log.with_name(log.name + ".1").stat().st_size > 10 * 1024 * 1024


def test_systemd_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip(
            "systemd-analyze is not installed here (package systemd); the units are checked where it is"
        )
    units = systemd_units(load_schedules(json.dumps(LISTING)), tmp_path, "/bin/true", "prod", user="daemon")
    for name, text in units.items():
        (tmp_path / name).write_text(text)

    def problems(*files: Path) -> list[str]:
        done = subprocess.run(
            [analyze, "verify", *map(str, files)], capture_output=True, text=True, check=False, cwd=tmp_path
        )
        # verify exits 0 even for lines it ignores: every line naming one of our files is a problem.
        return [ln for ln in (done.stdout + done.stderr).splitlines() if str(tmp_path) in ln] + (
            [f"exit {done.returncode}"] if done.returncode else []
        )

    assert problems(*(tmp_path / name for name in units)) == []
    # The check can fail: a unit with a bad timeout is reported.
    broken = tmp_path / "broken.service"
    broken.write_text(units["hourly-stripe-to-kissmetrics.service"].replace("=55min", "=forever"))
    assert any("TimeoutStartSec" in line for line in problems(broken))


def test_the_readme_shows_the_line_the_script_generates() -> None:
    [line] = cron_lines(
        load_schedules(json.dumps(LISTING)),
        Path("/srv/stripe-km"),
        "/srv/stripe-km/.venv/bin/meltano",
        "prod",
    )
    assert f"\n{line}\n" in (REPO_ROOT / "README.md").read_text()
