"""Turn Meltano's schedules into something that actually fires: a crontab line or systemd units.

Nothing in Meltano triggers `@hourly` by itself. This reads `meltano schedule list --format=json` (or a
saved copy of its output) and prints, for every job schedule:

- `--cron` (default): one crontab line per schedule;
- `--systemd`: a `.service` and a `.timer` unit per schedule.

Each runs `meltano --environment=ENV schedule run NAME` in the project folder, so state resumes from
Meltano's system database, and a second run started while one is going exits 1 ("already running").

The crontab line is plain POSIX sh and needs nothing from the environment (cron gives almost none): it
changes to the project folder, exports PATH (Meltano 4.4.1 cannot start a plugin without one: "Cannot
start plugin …: 'PATH'"; sh has a default it does not export), sets umask 077 (Meltano writes the
plugins' config files, keys included, for the length of a run), creates `.meltano/logs/`, keeps the log
under 10 MiB (the previous 10 MiB are kept as `.1`) and appends the run's output to it. Keys come from
the project's `.env`.

The systemd service runs as the project folder's owner (never root unless asked with `--user root`),
with a start timeout below the schedule's period (a hung run is stopped with SIGTERM before the next is
due) and the same umask; its output goes to the journal (`journalctl -u NAME`).
"""

from __future__ import annotations

import argparse
import json
import pwd
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

LOG_LIMIT_BYTES = 10 * 1024 * 1024
DEFAULT_TIMEOUT = "55min"

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


def cron_command(project: Path, meltano: str, environment: str, name: str) -> str:
    """The crontab line's command: POSIX sh, no `%` (cron's newline), nothing taken from the environment."""
    log = shlex.quote(f".meltano/logs/{name}.cron.log")
    run = f"{shlex.quote(meltano)} --environment={shlex.quote(environment)} schedule run {shlex.quote(name)}"
    command = (
        f'cd {shlex.quote(str(project))} && export PATH="${{PATH:-/usr/bin:/bin}}" && umask 077'
        f" && mkdir -p .meltano/logs && L={log}"
        f' && {{ [ ! -f "$L" ] || [ $(wc -c < "$L") -lt {LOG_LIMIT_BYTES} ] || mv -f "$L" "$L.1"; }}'
        f' && {run} >> "$L" 2>&1'
    )
    if "%" in command:
        raise ValueError(f"a path holds '%', which cron turns into a newline: {command!r}")
    return command


def cron_lines(schedules: list[dict[str, Any]], project: Path, meltano: str, environment: str) -> list[str]:
    return [
        f"{schedule['cron_interval']} {cron_command(project, meltano, environment, schedule['name'])}"
        for schedule in schedules
    ]


def on_calendar(schedule: dict[str, Any]) -> str:
    """systemd OnCalendar for a schedule; only the plain `M H * * *`-style cron forms are translated."""
    if schedule["interval"] in _ON_CALENDAR:
        return _ON_CALENDAR[schedule["interval"]]
    minute, hour, day, month, weekday = schedule["cron_interval"].split()
    if (day, month, weekday) != ("*", "*", "*"):
        raise ValueError(f"schedule {schedule['name']}: use --cron for {schedule['cron_interval']!r}")
    return f"*-*-* {hour}:{minute}:00"


def project_owner(project: Path) -> str:
    """The user who owns the project folder (the one the service runs as by default)."""
    uid = project.stat().st_uid
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def systemd_units(
    schedules: list[dict[str, Any]],
    project: Path,
    meltano: str,
    environment: str,
    *,
    user: str,
    timeout: str = DEFAULT_TIMEOUT,
) -> dict[str, str]:
    units = {}
    for schedule in schedules:
        name = schedule["name"]
        command = _command(project, meltano, environment, name).replace("%", "%%").replace("$", "$$")
        units[f"{name}.service"] = (
            "[Unit]\n"
            f"Description=Meltano schedule {name} ({schedule['job']['name']})\n"
            "Wants=network-online.target\n"
            "After=network-online.target\n\n"
            "[Service]\n"
            "Type=oneshot\n"
            f"User={user}\n"
            f"WorkingDirectory={project}\n"
            f"ExecStart=/bin/sh -c {shlex.quote(command)}\n"
            "# A hung run is stopped (SIGTERM, then SIGKILL after TimeoutStopSec) before the next is due.\n"
            f"TimeoutStartSec={timeout}\n"
            "TimeoutStopSec=2min\n"
            "# Meltano writes the plugins' config files (keys included) for the length of a run.\n"
            "UMask=0077\n"
            "NoNewPrivileges=yes\n"
            "PrivateTmp=yes\n"
            "ProtectSystem=full\n"
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
    parser.add_argument("--user", help="systemd: the user to run as (default: the project folder's owner)")
    parser.add_argument(
        "--timeout", default=DEFAULT_TIMEOUT, help=f"systemd: TimeoutStartSec (default {DEFAULT_TIMEOUT})"
    )
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
        user = args.user or project_owner(project)
        if user in ("root", "0") and args.user is None:
            print(
                "schedule_units.py: error: the project folder is owned by root; pass --user USER (the account"
                " that should run the pipeline; --user root only if it really must run as root)",
                file=sys.stderr,
            )
            return 2
        units = systemd_units(
            schedules, project, args.meltano, args.environment, user=user, timeout=args.timeout
        )
        for filename, text in units.items():
            print(f"# --- {filename}\n{text}")
    else:
        print("\n".join(cron_lines(schedules, project, args.meltano, args.environment)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
