"""The target process under everyday operations (#15 items 1, 3, 6, 9; #11 privacy at rest).

Signals mid-delivery, a full disk under the journal, retention, a flipped ``lowercase_identity``, the
journal's file modes, and pending events re-sent at start. The end-to-end versions under
``meltano run`` are in tests/e2e/test_interrupts.py and tests/e2e/test_journal_operations.py.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from target_kissmetrics.journal import Journal

from stand_ins.kissmetrics import KissmetricsStandIn
from tests.target.conftest import ROOT, run_cli, run_in_process
from tests.target.singer_input import billed, singer_lines
from tests.target.test_golden_requests import BILLED_USD

STATE = {"bookmarks": {"subscription_billed": {"replication_key_value": "2024-03-02T00:00:00Z"}}}


def many(count: int, prefix: str = "in_") -> list[tuple[str, dict[str, Any]]]:
    return [
        ("subscription_billed", billed(f"{prefix}{i}", customer_email=f"User{i}@Example.com", amount=i + 0.5))
        for i in range(count)
    ]


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "| ERROR" in line]


def billed_on_dashboard(standin: KissmetricsStandIn) -> Counter[str]:
    return Counter(e.properties["Stripe Invoice ID"] for e in standin.dashboard())


def counts(path: str | Path) -> dict[str, int]:
    with contextlib.closing(sqlite3.connect(path)) as db:
        return dict(db.execute("SELECT status, COUNT(*) FROM deliveries GROUP BY status").fetchall())


# -- signals ---------------------------------------------------------------------------------------------
def start_target(config: dict[str, Any], tmp_path: Path) -> subprocess.Popen[str]:
    config_path = tmp_path / "target-config.json"
    config_path.write_text(json.dumps(config))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TARGET_KISSMETRICS_", "MELTANO_"))}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.Popen(
        [sys.executable, "-m", "target_kissmetrics.target", "--config", str(config_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env=env,
    )


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("input_open", [True, False], ids=["tap-still-writing", "input-ended"])
def test_signal_mid_delivery_no_state_nonzero_exit_and_the_rerun_completes(
    standin: KissmetricsStandIn, config: dict[str, Any], tmp_path: Path, sig: signal.Signals, input_open: bool
) -> None:
    """On main: STATE printed, exit 0, the undelivered events left pending for a run that never came."""
    standin.latency_seconds = 0.04
    text = singer_lines(many(1200), STATE)  # 500 at a time are sent while reading
    target = start_target({**config, "max_concurrency": 2}, tmp_path)
    assert target.stdin is not None
    target.stdin.write(text)
    target.stdin.flush()
    if not input_open:
        target.stdin.close()
        target.stdin = None  # so that communicate() does not flush it
    deadline = time.monotonic() + 60
    while len(standin.requests) < 20:
        assert time.monotonic() < deadline and target.poll() is None
        time.sleep(0.01)
    target.send_signal(sig)
    stdout, stderr = target.communicate(timeout=60)
    assert target.returncode == 128 + sig
    assert stdout == "", "no STATE past undelivered events"
    [error] = error_lines(stderr)
    assert f"Interrupted by {sig.name}" in error
    assert "Traceback" not in stderr
    sent_before = len(standin.requests)
    assert sent_before < 1200
    assert counts(config["journal_path"]).get("delivered", 0) <= sent_before

    standin.latency_seconds = 0
    rerun = run_cli(config, text, tmp_path)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert rerun.states, "the rerun delivered everything and printed STATE"
    assert billed_on_dashboard(standin) == Counter({f"in_{i}": 1 for i in range(1200)})
    assert counts(config["journal_path"]) == {"delivered": 1200}


def test_sigterm_while_waiting_for_input_stops_at_once(
    standin: KissmetricsStandIn, config: dict[str, Any], tmp_path: Path
) -> None:
    target = start_target(config, tmp_path)
    assert target.stdin is not None
    target.stdin.write(singer_lines(many(3), STATE))
    target.stdin.flush()
    deadline = time.monotonic() + 60
    while not Path(config["journal_path"]).exists():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(1.0)  # the target is now blocked reading from a tap that writes nothing more
    started = time.monotonic()
    target.send_signal(signal.SIGTERM)
    stdout, stderr = target.communicate(timeout=30)
    assert time.monotonic() - started < 5
    assert target.returncode == 143 and stdout == ""
    assert "Interrupted by SIGTERM" in error_lines(stderr)[0]


def test_pending_events_are_resent_at_start_even_if_their_records_never_come_back(
    standin: KissmetricsStandIn, config: dict[str, Any]
) -> None:
    """A journal left with pending rows (as main left it after Ctrl-C, with STATE saved past them)."""
    journal = Journal(Path(config["journal_path"]), 0)
    journal.add_pending("subscription_billed", [("in_1", BILLED_USD)])
    journal.close()
    run_in_process(config, singer_lines([], STATE))
    assert [r.raw_query.split("&", 1)[1] for r in standin.requests] == [BILLED_USD]
    assert counts(config["journal_path"]) == {"delivered": 1}


# -- dry run ---------------------------------------------------------------------------------------------
def test_dry_run_prints_no_state(standin: KissmetricsStandIn, config: dict[str, Any], tmp_path: Path) -> None:
    result = run_cli({**config, "dry_run": True}, singer_lines(many(3), STATE), tmp_path)
    assert result.returncode == 0 and result.stdout == ""
    assert standin.requests == []


# -- the journal on disk ---------------------------------------------------------------------------------
def test_journal_is_readable_by_its_owner_only(config: dict[str, Any], tmp_path: Path) -> None:
    old = tmp_path / "old" / "journal.sqlite"
    old.parent.mkdir()
    sqlite3.connect(old).close()
    old.chmod(0o644)  # as main created it
    run_in_process({**config, "journal_path": str(old)}, singer_lines(many(2), STATE))
    fresh = tmp_path / "new" / "sub" / "journal.sqlite"
    run_in_process({**config, "journal_path": str(fresh)}, singer_lines(many(2), STATE))
    for path in (old, fresh):
        for file in path.parent.iterdir():
            assert stat.S_IMODE(file.stat().st_mode) == 0o600, file
    assert stat.S_IMODE(fresh.parent.stat().st_mode) == 0o700


def test_a_delivered_entry_keeps_its_key_and_drops_its_request(tmp_path: Path) -> None:
    """Pending requests hold emails; once delivered only the key is needed."""
    journal = Journal(tmp_path / "j.sqlite", 0)
    journal.add_pending("s", [("a", "_p=alice%40example.com&_n=x"), ("b", "_p=bob%40example.com&_n=x")])
    journal.mark_delivered("s", ["a"])
    assert journal.lookup("s", ["a", "b"]) == {
        "a": ("delivered", ""),
        "b": ("pending", "_p=bob%40example.com&_n=x"),
    }
    journal.close()


def _age(path: Path, days: float) -> None:
    with contextlib.closing(sqlite3.connect(path)) as db, db:
        db.execute("UPDATE deliveries SET updated_at = updated_at - ?", (days * 86400,))


def test_retention_zero_keeps_everything_and_pending_is_never_pruned(tmp_path: Path) -> None:
    """On main `0` wiped the journal at every start, and pending rows were pruned like delivered ones."""
    path = tmp_path / "j.sqlite"
    journal = Journal(path, 0)
    journal.add_pending("s", [("old-delivered", "q"), ("old-pending", "q")])
    journal.mark_delivered("s", ["old-delivered"])
    journal.close()
    _age(path, 1000)
    journal = Journal(path, 0)
    assert journal.pruned == 0 and journal.counts() == {"delivered": 1, "pending": 1}
    journal.close()
    journal = Journal(path, 30)
    assert journal.pruned == 1 and journal.counts() == {"pending": 1}
    journal.close()


@pytest.mark.parametrize("value", ["0.5", "-1", "sixty", 1.5])
def test_retention_that_is_not_a_whole_number_is_one_line(
    standin: KissmetricsStandIn, config: dict[str, Any], tmp_path: Path, value: Any
) -> None:
    result = run_cli({**config, "journal_retention_days": value}, singer_lines(many(1), STATE), tmp_path)
    assert result.returncode == 1
    [error] = error_lines(result.stderr)
    assert "journal_retention_days must be a whole number of days, 0 or more" in error
    assert standin.requests == []


def test_a_full_disk_under_the_journal_is_one_line_and_loses_nothing(
    standin: KissmetricsStandIn, config: dict[str, Any], tmp_path: Path
) -> None:
    """The journal's files may not grow past 96 KiB (RLIMIT_FSIZE, as a full disk: the write fails)."""
    config_path = tmp_path / "target-config.json"
    config_path.write_text(json.dumps(config))
    text = singer_lines(many(2000), STATE)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TARGET_KISSMETRICS_", "MELTANO_"))}
    env["PYTHONPATH"] = str(ROOT)

    def small_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (96 * 1024, 96 * 1024))

    full = subprocess.run(
        [sys.executable, "-m", "target_kissmetrics.target", "--config", str(config_path)],
        input=text,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=120,
        check=False,
        preexec_fn=small_files,
    )
    assert full.returncode == 1 and full.stdout == ""
    [error] = error_lines(full.stderr)
    assert "the delivery journal" in error and "could not be written" in error
    assert "Traceback" not in full.stderr
    rerun = run_cli(config, text, tmp_path)
    assert rerun.returncode == 0 and rerun.states
    assert billed_on_dashboard(standin) == Counter({f"in_{i}": 1 for i in range(2000)})


def test_flipping_lowercase_identity_is_refused_with_one_line(
    standin: KissmetricsStandIn, config: dict[str, Any], tmp_path: Path
) -> None:
    assert run_cli(config, singer_lines(many(2), STATE), tmp_path).returncode == 0
    later = singer_lines(many(2, prefix="in_later_"), STATE)
    result = run_cli({**config, "lowercase_identity": False}, later, tmp_path)
    assert result.returncode == 1
    [error] = error_lines(result.stderr)
    assert "lowercase_identity is false, but the events in the journal" in error
    assert len(standin.requests) == 2
    assert all(e.person == e.person.lower() for e in standin.dashboard())


def test_a_journal_at_the_old_default_place_is_adopted(
    standin: KissmetricsStandIn, config: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Upgrading without `meltano install` in between: the old journal still knows what was delivered."""
    monkeypatch.setenv("MELTANO_PROJECT_ROOT", str(tmp_path))
    monkeypatch.setenv("MELTANO_ENVIRONMENT", "prod")
    legacy = tmp_path / ".meltano" / "run" / "target-kissmetrics" / "journal.sqlite"
    run_in_process({**config, "journal_path": str(legacy)}, singer_lines(many(3), STATE))
    assert len(standin.requests) == 3
    defaults = {k: v for k, v in config.items() if k != "journal_path"}
    run_in_process(defaults, singer_lines(many(3), STATE))
    assert len(standin.requests) == 3, "nothing was sent again"
    adopted = tmp_path / ".target-kissmetrics" / "prod" / "journal.sqlite"
    assert counts(adopted) == {"delivered": 3}
    assert stat.S_IMODE(adopted.stat().st_mode) == 0o600
