"""Ctrl-C and SIGTERM mid-delivery (#15 item 1): no STATE past undelivered events, a non-zero exit, and the
next run delivers the rest: 0 lost, 0 counted twice in KISSmetrics' de-duplicated view.

KISSmetrics answers after 40 ms and the target sends 2 at a time (~50 events/s), so the signal lands while
events are in flight. On main before this change each of these runs exited 0 with STATE saved past
hundreds of undelivered events, and the next run sent none of them.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from local_pipeline import KISSMETRICS_KEY, LocalPipeline
from stand_ins.processes import REPO_ROOT

from .operations import (
    assert_exactly_once,
    finish,
    journal_counts,
    last_lines,
    start_meltano_run,
    start_shell_recipe,
    state_of,
    tap_finished_and_requests,
    target_pid,
    wait_until,
)

pytestmark = pytest.mark.slow

SLOW = {"TARGET_KISSMETRICS_MAX_CONCURRENCY": "2"}


@pytest.fixture
def pipeline(tmp_path: Path) -> Iterator[LocalPipeline]:
    """Fewer invoices than the e2e default: still several hundred events, so the signal lands mid-way."""
    with LocalPipeline(invoices=1200, seed=11, workdir=tmp_path / "stand-ins", history_days=60) as running:
        yield running


def slow_kissmetrics(pipeline: LocalPipeline) -> None:
    pipeline.kissmetrics.control("latency", {"ms": 40})


def rerun_and_check(pipeline: LocalPipeline, journal: Path) -> None:
    assert journal_counts(journal).get("pending", 0) > 0, "the signal came while events were undelivered"
    pipeline.kissmetrics.control("latency", {"ms": 0})
    again = pipeline.meltano_run()
    assert again.returncode == 0, last_lines(again.stderr)
    assert journal_counts(journal).get("pending", 0) == 0
    assert assert_exactly_once(pipeline) > 100


def test_ctrl_c_to_the_whole_meltano_run_mid_delivery(pipeline: LocalPipeline) -> None:
    """As Ctrl-C in a terminal: SIGINT to the foreground process group (Meltano, the tap, the target).

    (SIGTERM to the whole group differs only in the signal: tests/target/test_operations.py covers it.)
    """
    sig = signal.SIGINT
    slow_kissmetrics(pipeline)
    env = pipeline.meltano_env(**SLOW)
    run = start_meltano_run(env)
    wait_until(tap_finished_and_requests(pipeline, run, 30), run)
    os.killpg(run.pid, sig)
    code, output = finish(run)
    assert code != 0, last_lines(output)
    assert f"Interrupted by {sig.name}" in output, "the target reported the interruption, not success"
    assert "bookmarks" not in str(state_of(env)), "Meltano saved no bookmark"
    rerun_and_check(pipeline, Path(env["TARGET_KISSMETRICS_JOURNAL_PATH"]))
    assert KISSMETRICS_KEY not in output


def test_sigterm_to_the_target_alone_mid_delivery(pipeline: LocalPipeline) -> None:
    """As systemd, Dagster or Kubernetes may: SIGTERM reaches the target only; Meltano sees it exit 143."""
    slow_kissmetrics(pipeline)
    env = pipeline.meltano_env(**SLOW)
    run = start_meltano_run(env)
    wait_until(tap_finished_and_requests(pipeline, run, 30), run)
    os.kill(target_pid(run), signal.SIGTERM)
    code, output = finish(run)
    assert code != 0, last_lines(output)
    assert "Interrupted by SIGTERM" in output
    assert "bookmarks" not in str(state_of(env))
    rerun_and_check(pipeline, Path(env["TARGET_KISSMETRICS_JOURNAL_PATH"]))


def _start_date() -> str:
    project = yaml.safe_load((REPO_ROOT / "meltano.yml").read_text())
    [local] = [env for env in project["environments"] if env["name"] == "local"]
    [tap] = [p for p in local["config"]["plugins"]["extractors"] if p["name"] == "tap-stripe-billing"]
    return str(tap["config"]["start_date"])


def _write(path: Path, payload: dict[str, Any]) -> None:
    path.write_text(json.dumps(payload))


def test_ctrl_c_to_the_shell_recipe_mid_delivery(pipeline: LocalPipeline, tmp_path: Path) -> None:
    """The README's shell recipe: Ctrl-C leaves state.json as it was; the next run completes exactly."""
    sig = signal.SIGINT
    slow_kissmetrics(pipeline)
    _write(tmp_path / "tap.json", pipeline.tap_config(start_date=_start_date()))
    journal = tmp_path / "journal.sqlite"
    _write(tmp_path / "target.json", pipeline.target_config(journal_path=str(journal), max_concurrency=2))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TAP_", "TARGET_", "MELTANO_"))}
    run = start_shell_recipe(tmp_path, env)
    wait_until(tap_finished_and_requests(pipeline, run, 30), run)
    os.killpg(run.pid, sig)
    code, output = finish(run)
    assert code != 0, last_lines(output)
    assert f"Interrupted by {sig.name}" in output
    assert not (tmp_path / "state.json").exists(), "no state was kept"
    assert journal_counts(journal).get("pending", 0) > 0, "the signal came while events were undelivered"
    pipeline.kissmetrics.control("latency", {"ms": 0})
    again = start_shell_recipe(tmp_path, env)
    code, output = finish(again)
    assert code == 0, last_lines(output)
    assert (tmp_path / "state.json").exists()
    assert journal_counts(journal).get("pending", 0) == 0
    assert assert_exactly_once(pipeline) > 100
