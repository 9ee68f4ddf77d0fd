"""The README stays true: its settings tables match the plugins, and CI runs the README's test command."""

from __future__ import annotations

import pytest

from scripts.settings_tables import END, READMES, START, tables
from stand_ins.processes import REPO_ROOT

README = (REPO_ROOT / "README.md").read_text()


@pytest.mark.parametrize("name", sorted(READMES))
def test_settings_tables_match_the_config_schemas(name: str) -> None:
    """If this fails after a settings change: `.venv/bin/python -m scripts.settings_tables`."""
    text = (REPO_ROOT / name).read_text()
    documented = text.split(START, 1)[1].split(END, 1)[0].strip()
    assert documented == tables(READMES[name])


def test_ci_runs_the_readme_test_command() -> None:
    assert "| `scripts/test.sh` |" in README
    assert "| `scripts/demo.sh` |" in README
    ci = (REPO_ROOT / ".ci" / "run").read_text()
    assert "scripts/test.sh" in ci.split("\n")[-2]
