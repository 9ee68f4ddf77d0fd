"""What an operator does to a running pipeline, and what KISSmetrics shows afterwards.

Signals to a `meltano run` (its whole process group, as Ctrl-C in a terminal does, or the target alone, as
systemd, Dagster or Kubernetes may), the README's shell-pipe recipe, a Meltano project copied to a
temporary folder (so `meltano install` and the default journal location can be exercised without touching
the repository), and the check against the ground truth: 0 lost, 0 counted twice.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sqlite3
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from local_pipeline import JOB, MELTANO, VENV_BIN, LocalPipeline
from stand_ins.processes import REPO_ROOT

from .conftest import delivered_invoice_ids, expected_invoice_ids

# What identifies one record's event on the dashboard: a second event with the same identity is a
# double count (a resend with other bytes); identical requests are de-duplicated by KISSmetrics itself.
EVENT_KEYS = {
    "Subscription Billed": ("Stripe Invoice ID",),
    "Refunded": ("Stripe Refund ID",),
}


def assert_exactly_once(pipeline: LocalPipeline) -> int:
    """KISSmetrics' de-duplicated view against the ground truth: every payment once, nothing twice."""
    delivered = delivered_invoice_ids(pipeline)
    expected = expected_invoice_ids(pipeline)
    twice = [key for key, count in Counter(delivered).items() if count > 1]
    assert not twice, f"counted twice: {twice[:5]} ({len(twice)})"
    lost = expected - set(delivered)
    assert not lost, f"lost: {sorted(lost)[:5]} ({len(lost)})"
    assert set(delivered) == expected
    identities: Counter[tuple[str, ...]] = Counter()
    for event in pipeline.received():
        names = EVENT_KEYS.get(event["event"])
        fields = tuple(event["properties"].get(n, "") for n in names) if names else (str(event["timestamp"]),)
        identity = (event["event"], event["person"], *fields)
        identities[identity] += 1
    doubled = [identity for identity, count in identities.items() if count > 1]
    assert not doubled, f"events counted twice: {doubled[:3]}"
    assert pipeline.kissmetrics.control("violations") == []
    return len(delivered)


def journal_counts(path: Path) -> dict[str, int]:
    with contextlib.closing(sqlite3.connect(path)) as db:
        return dict(db.execute("SELECT status, COUNT(*) FROM deliveries GROUP BY status").fetchall())


def start_meltano_run(env: dict[str, str], cwd: Path = REPO_ROOT) -> subprocess.Popen[str]:
    """`meltano run stripe-to-kissmetrics` in its own process group (a terminal's foreground job)."""
    return subprocess.Popen(
        [MELTANO, "run", JOB],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def start_shell_recipe(workdir: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    """The README's shell-pipe recipe under bash, in its own process group."""
    recipe = (
        "set -o pipefail\n"
        "state=(); [ -s state.json ] && state=(--state state.json)\n"
        'tap-stripe-billing --config tap.json "${state[@]}" \\\n'
        "  | target-kissmetrics --config target.json > target-out.jsonl \\\n"
        '  && last=$(tail -n 1 target-out.jsonl) && [ -n "$last" ] && printf \'%s\\n\' "$last" > state.json\n'
    )
    return subprocess.Popen(
        ["bash", "-c", recipe],
        cwd=workdir,
        env={**env, "PATH": f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def wait_until(condition: Callable[[], bool], process: subprocess.Popen[str], timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert process.poll() is None, "the run ended before the moment to signal it"
        assert time.monotonic() < deadline, "the moment to signal the run never came"
        time.sleep(0.01)


def requests_at_least(pipeline: LocalPipeline, count: int) -> Callable[[], bool]:
    return lambda: bool(pipeline.kissmetrics.control("count")["requests"] >= count)


def tap_finished_and_requests(
    pipeline: LocalPipeline, process: subprocess.Popen[str], count: int
) -> Callable[[], bool]:
    """The moment the issue describes: the tap has ended (its STATE is in the target's input) and
    KISSmetrics got ``count`` requests, with the rest of the events still to send."""

    def due() -> bool:
        running = descendants(process.pid).values()
        tap_alive = any("bin/tap-stripe-billing" in cmd for cmd in running)
        target_alive = any("bin/target-kissmetrics" in cmd for cmd in running)
        return target_alive and not tap_alive and requests_at_least(pipeline, count)()

    return due


def descendants(pid: int) -> dict[int, str]:
    """pid -> command line of every live process below ``pid``."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            text = stat.read_text()
            ppid = int(text[text.rindex(")") + 2 :].split()[1])
            children.setdefault(ppid, []).append(int(stat.parent.name))
    found: dict[int, str] = {}
    todo = list(children.get(pid, []))
    while todo:
        child = todo.pop()
        with contextlib.suppress(OSError):
            found[child] = (Path("/proc") / str(child) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        todo += children.get(child, [])
    return found


def target_pid(process: subprocess.Popen[str]) -> int:
    [pid] = [pid for pid, cmd in descendants(process.pid).items() if "bin/target-kissmetrics" in cmd]
    return pid


def finish(process: subprocess.Popen[str], timeout: float = 180) -> tuple[int, str]:
    try:
        output, _ = process.communicate(timeout=timeout)
    finally:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
    return process.returncode, output


class ProjectCopy:
    """This Meltano project in a temporary folder: its own `.meltano/`, database, journal and plugins.

    The packages are symlinked (pip_url installs them from there), so `meltano install` here installs the
    repository's code without touching the repository's own `.meltano/`.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        for name in ("meltano.yml", "constraints.txt"):
            shutil.copy(REPO_ROOT / name, root / name)
        for name in ("tap-stripe-billing", "target-kissmetrics"):
            (root / name).symlink_to(REPO_ROOT / name)

    def env(self, pipeline: LocalPipeline, **extra: str) -> dict[str, str]:
        """Meltano's environment against the stand-ins, with this project's defaults: no database URI or
        journal path from the test harness (state in `.meltano/meltano.db`, the journal at its default)."""
        env = pipeline.meltano_env(**extra)
        # MELTANO_SYS_DIR_ROOT: an xdist worker's system folder for this checkout (tests/conftest.py).
        for name in ("MELTANO_DATABASE_URI", "TARGET_KISSMETRICS_JOURNAL_PATH", "MELTANO_SYS_DIR_ROOT"):
            if name not in extra:
                env.pop(name, None)
        return env

    def meltano(
        self, env: dict[str, str], *args: str, timeout: float = 600
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [MELTANO, *args],
            cwd=self.root,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def journal(self, environment: str = "local") -> Path:
        return self.root / ".target-kissmetrics" / environment / "journal.sqlite"


def last_lines(text: str, count: int = 40) -> str:
    return "\n".join(text.splitlines()[-count:])


def state_of(env: dict[str, str], cwd: Path = REPO_ROOT) -> Any:
    result = subprocess.run(
        [MELTANO, "state", "get", "local:tap-stripe-billing-to-target-kissmetrics"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return result.stdout.strip() if result.returncode == 0 else None


def assert_no_traceback(output: str) -> None:
    """No traceback in a failed `meltano run`'s output, except Meltano's own when the target exited
    while the tap was still writing to it (meltano/meltano#7047: Meltano 4.4.1's `_write_line_writer`
    catches the closed pipe, then `wait_closed()` raises it again). Whether that one appears is a race on
    how soon the tap writes; a plugin's traceback would be a line of its stderr, prefixed with its name."""
    lines = [line for line in output.splitlines() if "Traceback" in line]
    assert all(line.startswith("╭") for line in lines), f"a plugin's traceback: {lines}"
    if lines:
        assert "ConnectionResetError: Connection lost" in output or "BrokenPipeError" in output, (
            "a Meltano traceback other than the closed pipe of meltano/meltano#7047"
        )
