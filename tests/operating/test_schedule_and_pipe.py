"""The ways the README runs the pipeline unattended, run for real against the stand-ins (issue #15, item 8):
the generated crontab line under ``env -i /bin/sh`` in a copy of the project, and the shell-pipe recipe
under ``sh``."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from local_pipeline import KISSMETRICS_KEY, MELTANO, VENV_BIN, LocalPipeline
from stand_ins.processes import REPO_ROOT

from .conftest import START_DATE, assert_billed_exact, expected_billed

SCHEDULE = "hourly-stripe-to-kissmetrics"


def copy_project(destination: Path) -> Path:
    """The files a Meltano project of this repository needs (meltano.yml and what its pip_urls name)."""
    destination.mkdir(parents=True)
    for name in ("meltano.yml", "constraints.txt"):
        shutil.copy2(REPO_ROOT / name, destination / name)
    ignore = shutil.ignore_patterns("*.egg-info", "__pycache__", "build")
    for name in ("tap-stripe-billing", "target-kissmetrics"):
        shutil.copytree(REPO_ROOT / name, destination / name, ignore=ignore)
    return destination


def plain_env() -> dict[str, str]:
    """This test's environment without anything of the pipeline's own (the copy's .env has that)."""
    prefixes = ("TAP_STRIPE_BILLING_", "TARGET_KISSMETRICS_", "MELTANO_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


@pytest.mark.slow
def test_the_crontab_line_runs_the_pipeline_under_sh_with_no_environment(
    pipeline: LocalPipeline, tmp_path: Path
) -> None:
    project = copy_project(tmp_path / "stripe km")  # a space in the path, as /srv/… may have
    (project / ".env").write_text(
        f"TAP_STRIPE_BILLING_API_KEY={pipeline.stripe_key}\n"
        f"TAP_STRIPE_BILLING_API_URL={pipeline.stripe.url}\n"
        f"TARGET_KISSMETRICS_API_KEY={KISSMETRICS_KEY}\n"
        f"TARGET_KISSMETRICS_TRACKING_URL={pipeline.kissmetrics.url}\n"
    )
    install = subprocess.run(
        [MELTANO, "install"], cwd=project, env=plain_env(), capture_output=True, text=True, check=False
    )
    assert install.returncode == 0, install.stderr[-3000:]
    generated = subprocess.run(
        [sys.executable, str(REPO_ROOT / "scripts" / "schedule_units.py"), "--environment", "local"],
        cwd=project,
        env=plain_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    [line] = generated.stdout.splitlines()
    minute, hour, day, month, weekday, command = line.split(" ", 5)
    assert (minute, hour, day, month, weekday) == ("0", "*", "*", "*", "*")
    assert not (project / ".meltano" / "logs").exists()

    done = subprocess.run(
        ["env", "-i", "/bin/sh", "-c", command], capture_output=True, text=True, check=False
    )
    log = project / ".meltano" / "logs" / f"{SCHEDULE}.cron.log"
    assert done.returncode == 0, log.read_text()[-3000:] if log.exists() else done.stderr
    assert done.stdout == done.stderr == "", "nothing for cron to mail"
    text = log.read_text()
    assert re.search(r"Running job with name 'local:tap-stripe-billing-to-target-kissmetrics'", text)
    assert pipeline.stripe_key not in text and KISSMETRICS_KEY not in text
    assert_billed_exact(pipeline, expected_billed(pipeline), "the crontab line's run")

    pipeline.advance_hours(1)
    again = subprocess.run(
        ["env", "-i", "/bin/sh", "-c", command], capture_output=True, text=True, check=False
    )
    assert again.returncode == 0, log.read_text()[-3000:]
    assert log.read_text().startswith(text), "appended, not overwritten"
    result = assert_billed_exact(pipeline, expected_billed(pipeline), "the next hour")
    assert result.resends == 0
    # State lives in the copy's own system database: the second run resumed from it.
    assert (project / ".meltano" / "meltano.db").exists()


def readme_shell_recipe() -> str:
    """The ```sh block under "As a plain shell pipe" in the README."""
    readme = (REPO_ROOT / "README.md").read_text()
    section = readme.split("### As a plain shell pipe", 1)[1]
    return section.split("```sh\n", 1)[1].split("```", 1)[0]


def run_recipe(workdir: Path) -> subprocess.CompletedProcess[str]:
    env = {"PATH": f"{VENV_BIN}{os.pathsep}/usr/bin:/bin", "HOME": str(workdir)}
    return subprocess.run(
        ["sh", "recipe.sh"], cwd=workdir, env=env, capture_output=True, text=True, timeout=300, check=False
    )


@pytest.mark.slow
def test_the_readme_shell_recipe_runs_under_sh(pipeline: LocalPipeline, tmp_path: Path) -> None:
    recipe = readme_shell_recipe()
    assert "pipefail" not in recipe and "[@]" not in recipe
    (tmp_path / "recipe.sh").write_text(recipe)
    tap = pipeline.tap_config(start_date=START_DATE, backoff_base_seconds=0.01)
    target = pipeline.target_config(journal_path=str(tmp_path / "journal.sqlite"), max_retries=0)
    (tmp_path / "tap.json").write_text(json.dumps(tap))
    (tmp_path / "target.json").write_text(json.dumps(target))
    state = tmp_path / "state.json"

    first = run_recipe(tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    assert_billed_exact(pipeline, expected_billed(pipeline), "first run of the recipe")
    saved = state.read_text()
    assert json.loads(saved)["bookmarks"]["subscription_billed"]["replication_key_value"]

    # A failing tap (Stripe rejects the key) leaves state.json as it was.
    pipeline.advance_hours(1)
    (tmp_path / "tap.json").write_text(json.dumps({**tap, "api_key": "sk_live_rejected0000"}))
    assert run_recipe(tmp_path).returncode != 0
    assert state.read_text() == saved
    # So does a failing target (KISSmetrics refuses everything, no retries).
    (tmp_path / "tap.json").write_text(json.dumps(tap))
    pipeline.kissmetrics.control("faults", {"rates": {"503": 1.0}})
    assert run_recipe(tmp_path).returncode != 0
    assert state.read_text() == saved
    pipeline.kissmetrics.control("faults", {})

    again = run_recipe(tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    assert state.read_text() != saved
    assert assert_billed_exact(pipeline, expected_billed(pipeline), "after the failures").resends == 0
