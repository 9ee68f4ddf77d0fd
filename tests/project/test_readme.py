"""The README stays true: its settings tables match the plugins, and CI runs the README's test command."""

from __future__ import annotations

from scripts.settings_tables import END, START, tables
from stand_ins.processes import REPO_ROOT

README = (REPO_ROOT / "README.md").read_text()


def test_settings_tables_match_the_config_schemas() -> None:
    """If this fails after a settings change: `.venv/bin/python -m scripts.settings_tables`."""
    documented = README.split(START, 1)[1].split(END, 1)[0].strip()
    assert documented == tables()


def test_ci_runs_the_readme_test_command() -> None:
    assert "| `scripts/test.sh` |" in README
    assert "| `scripts/demo.sh` |" in README
    ci = (REPO_ROOT / ".ci" / "run").read_text()
    assert "scripts/test.sh" in ci.split("\n")[-2]
