"""Everyday operations around the delivery journal lose nothing and double nothing (#15 items 2, 3, 6, 9).

Each runs `meltano run stripe-to-kissmetrics` against the stand-ins and checks KISSmetrics' de-duplicated
view against the ground truth: 0 lost, 0 counted twice. A replay only doubles revenue when it rebuilds a
request with different bytes, so the replays here come after Stripe data drifted (prices renamed, emails
changed): without the journal, every replayed payment would show twice.
"""

from __future__ import annotations

import contextlib
import sqlite3
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from local_pipeline import LocalPipeline

from .conftest import expected_invoice_ids
from .operations import ProjectCopy, assert_exactly_once, assert_no_traceback, journal_counts, last_lines

pytestmark = pytest.mark.slow

STATE_ID = "local:tap-stripe-billing-to-target-kissmetrics"


@pytest.fixture
def pipeline(tmp_path: Path) -> Iterator[LocalPipeline]:
    with LocalPipeline(invoices=600, seed=11, workdir=tmp_path / "stand-ins", history_days=60) as running:
        yield running


def drift(pipeline: LocalPipeline) -> None:
    """Every price renamed and every email changed: a rebuilt request would differ from the one sent."""
    changed = pipeline.stripe.control(
        "mutate", {"price_nickname_suffix": " (renamed)", "customer_email_prefix": "changed."}
    )
    assert changed["prices_renamed"] > 0 and changed["customer_emails_changed"] > 0


def ok(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, last_lines(result.stderr)


def test_dry_run_moves_no_state_so_the_real_run_sends_everything(pipeline: LocalPipeline) -> None:
    """#15 item 3: on main the dry run printed STATE, Meltano saved it, and the real run sent nothing."""
    dry = pipeline.meltano_run(TARGET_KISSMETRICS_DRY_RUN="true")
    ok(dry)
    assert pipeline.kissmetrics.control("count")["requests"] == 0
    assert "bookmarks" not in pipeline.meltano("state", "get", STATE_ID).stdout
    ok(pipeline.meltano_run())
    assert assert_exactly_once(pipeline) > 100


def test_meltano_install_keeps_the_journal_and_replays_send_nothing_twice(
    pipeline: LocalPipeline, tmp_path: Path
) -> None:
    """#15 item 2: `meltano install` empties `.meltano/run/<plugin>/`, where the journal lived by default.

    A copy of this project, with its defaults (state in `.meltano/meltano.db`, the journal wherever the
    target puts it): install, run, reinstall, drift, `state clear` and run, reinstall, `--full-refresh`.
    """
    project = ProjectCopy(tmp_path / "project")
    env = project.env(pipeline)
    ok(project.meltano(env, "install"))
    ok(project.meltano(env, "run", "stripe-to-kissmetrics"))
    first = assert_exactly_once(pipeline)
    assert first == len(expected_invoice_ids(pipeline)) > 100

    # The journal: outside .meltano/, one per environment, readable by its owner only (#15 item 9, #11).
    journal = project.journal("local")
    assert journal_counts(journal) == {"delivered": journal_counts(journal)["delivered"]}
    assert not (project.root / ".target-kissmetrics" / "prod").exists()
    for path in (journal, journal.with_name("journal.sqlite-wal"), journal.with_name("journal.sqlite-shm")):
        if path.exists():
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert stat.S_IMODE(journal.parent.stat().st_mode) == 0o700

    ok(project.meltano(env, "install"))
    drift(pipeline)
    ok(project.meltano(env, "state", "clear", "--force", STATE_ID))
    ok(project.meltano(env, "run", "stripe-to-kissmetrics"))
    assert assert_exactly_once(pipeline) == first

    ok(project.meltano(env, "install"))
    ok(project.meltano(env, "run", "--full-refresh", "stripe-to-kissmetrics"))
    assert assert_exactly_once(pipeline) == first
    assert journal_counts(journal).get("pending", 0) == 0


def age_journal(path: Path, days: int) -> None:
    with contextlib.closing(sqlite3.connect(path)) as db, db:
        db.execute(
            "UPDATE deliveries SET created_at = created_at - ?, updated_at = updated_at - ?",
            (days * 86400,) * 2,
        )


def test_a_state_reset_after_months_sends_nothing_twice(pipeline: LocalPipeline) -> None:
    """#15 item 6: the journal used to forget after 60 days, and a state reset then doubled revenue."""
    ok(pipeline.meltano_run())
    first = assert_exactly_once(pipeline)
    age_journal(Path(pipeline.meltano_env()["TARGET_KISSMETRICS_JOURNAL_PATH"]), 400)
    drift(pipeline)
    ok(pipeline.meltano("state", "clear", "--force", STATE_ID))
    ok(pipeline.meltano_run())
    assert assert_exactly_once(pipeline) == first


def test_a_fractional_retention_is_one_line_naming_the_setting(pipeline: LocalPipeline) -> None:
    """#15 item 6: Meltano used to crash with "invalid literal for int()" and a traceback."""
    result = pipeline.meltano_run(TARGET_KISSMETRICS_JOURNAL_RETENTION_DAYS="0.5")
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "journal_retention_days must be a whole number of days" in output
    assert_no_traceback(output)
    assert pipeline.kissmetrics.control("count")["requests"] == 0


def test_flipping_lowercase_identity_is_refused_before_anyone_is_split(pipeline: LocalPipeline) -> None:
    """#15 item 9: with the flip, payments of people whose email has capitals went to a second person."""
    ok(pipeline.meltano_run())
    first = assert_exactly_once(pipeline)
    pipeline.advance_hours(24)
    flipped = pipeline.meltano_run(TARGET_KISSMETRICS_LOWERCASE_IDENTITY="false")
    assert flipped.returncode != 0
    assert "lowercase_identity is false, but the events in the journal" in flipped.stdout + flipped.stderr
    assert assert_exactly_once_so_far(pipeline, first)
    ok(pipeline.meltano_run())  # back to the setting the journal was filled with
    assert assert_exactly_once(pipeline) > first


def assert_exactly_once_so_far(pipeline: LocalPipeline, count: int) -> bool:
    events = [e for e in pipeline.received() if e["event"] == "Subscription Billed"]
    assert len(events) == count, "nothing was sent by the refused run"
    assert all(e["person"] == e["person"].strip().lower() for e in events)
    return True


@contextlib.contextmanager
def tiny_tmpfs(where: Path, size: str) -> Iterator[Path]:
    """A real small filesystem (needs root and mount permission: skipped where there is none)."""
    where.mkdir()
    options = f"size={size},mode=0700"
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)], capture_output=True, check=False
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()[:100]}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def test_a_full_disk_under_the_journal_is_one_line_then_the_next_run_completes(
    pipeline: LocalPipeline, tmp_path: Path
) -> None:
    """#15 item 9: on main, a traceback. The journal sits on a 96 KiB tmpfs, which fills mid-run."""
    with tiny_tmpfs(tmp_path / "small", "96k") as small:
        journal = str(small / "journal.sqlite")
        full = pipeline.meltano_run(TARGET_KISSMETRICS_JOURNAL_PATH=journal)
        assert full.returncode != 0
        output = full.stdout + full.stderr
        assert "could not be written (database or disk is full)" in output, last_lines(output)
        assert_no_traceback(output)
        assert "bookmarks" not in pipeline.meltano("state", "get", STATE_ID).stdout
        subprocess.run(["mount", "-o", "remount,size=16m", str(small)], check=True)  # space freed
        ok(pipeline.meltano_run(TARGET_KISSMETRICS_JOURNAL_PATH=journal))
        assert assert_exactly_once(pipeline) > 100
        assert journal_counts(small / "journal.sqlite").get("pending", 0) == 0
