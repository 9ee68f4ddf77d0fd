"""Turn Meltano's schedules into something that actually fires: a crontab line or systemd units.

Nothing in Meltano triggers `@hourly` by itself. This reads `meltano schedule list --format=json` (or a
saved copy of its output) and prints, for every job schedule:

- `--cron` (default): one crontab line per schedule;
- `--systemd`: a `.service` and a `.timer` unit per schedule.

Each runs `meltano --environment=ENV schedule run NAME` in the project folder, so state resumes from
Meltano's system database, and a second run started while one is going exits 1 ("already running").
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

# systemd's OnCalendar spellings for Meltano's named intervals (cron_interval covers the rest).
_ON_CALENDAR = {"@hourly": "hourly", "@daily": "daily", "@weekly": "weekly", "@monthly": "monthly"}


def load_schedules(listing: str) -> list[dict[str, Any]]:
    """Job schedules from `meltano schedule list --format=json` output."""
    data = json.loads(listing)
    return list(data.get("schedules", {}).get("job", []))


def _command(project: Path, meltano: str, environment: str, name: str) -> str:
    return (
        f"cd {shlex.quote(str(project))} && {shlex.quote(meltano)} --environment={shlex.quote(environment)} "
        f"schedule run {shlex.quote(name)}"
    )


def cron_lines(schedules: list[dict[str, Any]], project: Path, meltano: str, environment: str) -> list[str]:
    lines = []
    for schedule in schedules:
        log = project / ".meltano" / "logs" / f"{schedule['name']}.cron.log"
        command = _command(project, meltano, environment, schedule["name"])
        lines.append(f"{schedule['cron_interval']} {command} >> {shlex.quote(str(log))} 2>&1")
    return lines


def on_calendar(schedule: dict[str, Any]) -> str:
    """systemd OnCalendar for a schedule; only the plain `M H * * *`-style cron forms are translated."""
    if schedule["interval"] in _ON_CALENDAR:
        return _ON_CALENDAR[schedule["interval"]]
    minute, hour, day, month, weekday = schedule["cron_interval"].split()
    if (day, month, weekday) != ("*", "*", "*"):
        raise ValueError(f"schedule {schedule['name']}: use --cron for {schedule['cron_interval']!r}")
    return f"*-*-* {hour}:{minute}:00"


def systemd_units(
    schedules: list[dict[str, Any]], project: Path, meltano: str, environment: str
) -> dict[str, str]:
    units = {}
    for schedule in schedules:
        name = schedule["name"]
        command = _command(project, meltano, environment, name)
        units[f"{name}.service"] = (
            "[Unit]\n"
            f"Description=Meltano schedule {name} ({schedule['job']['name']})\n\n"
            "[Service]\n"
            "Type=oneshot\n"
            f"WorkingDirectory={project}\n"
            f"ExecStart=/bin/sh -c {shlex.quote(command)}\n"
        )
        units[f"{name}.timer"] = (
            "[Unit]\n"
            f"Description=Run {name} {schedule['interval']}\n\n"
            "[Timer]\n"
            f"OnCalendar={on_calendar(schedule)}\n"
            "Persistent=true\n"
            "RandomizedDelaySec=60\n\n"
            "[Install]\n"
            "WantedBy=timers.target\n"
        )
    return units


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--systemd", action="store_true", help="print systemd units instead of crontab lines")
    parser.add_argument("--environment", default="prod", help="Meltano environment to run (default: prod)")
    parser.add_argument("--project", type=Path, default=Path.cwd(), help="Meltano project folder")
    parser.add_argument("--meltano", default=str(Path(sys.executable).parent / "meltano"))
    parser.add_argument("--from-file", type=Path, help="saved `meltano schedule list --format=json` output")
    args = parser.parse_args(argv)

    project = args.project.resolve()
    if args.from_file:
        listing = args.from_file.read_text()
    else:
        listing = subprocess.run(  # noqa: S603 - the user's own meltano
            [args.meltano, "schedule", "list", "--format=json"],
            cwd=project,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    schedules = load_schedules(listing)
    if args.systemd:
        for filename, text in systemd_units(schedules, project, args.meltano, args.environment).items():
            print(f"# --- {filename}\n{text}")
    else:
        print("\n".join(cron_lines(schedules, project, args.meltano, args.environment)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
