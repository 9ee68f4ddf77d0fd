"""Each package's README is its PyPI page: settings table from the config schema, install lines that
match the plugin definition, and the same `meltano add` line as the repository README."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from scripts.settings_tables import END, PACKAGE_READMES, START, table
from stand_ins.processes import REPO_ROOT

ROOT_README = (REPO_ROOT / "README.md").read_text()


@pytest.mark.parametrize("readme", sorted(PACKAGE_READMES), ids=lambda p: p.parent.name)
def test_package_readme_settings_table_matches_the_config_schema(readme: Path) -> None:
    """If this fails after a settings change: `.venv/bin/python -m scripts.settings_tables`."""
    documented = readme.read_text().split(START, 1)[1].split(END, 1)[0].strip()
    assert documented == table(PACKAGE_READMES[readme])


@pytest.mark.parametrize("name", ["tap-stripe-billing", "target-kissmetrics"])
def test_package_readme_installs_what_the_definition_installs(name: str) -> None:
    text = (REPO_ROOT / name / "README.md").read_text()
    kind = "extractors" if name.startswith("tap-") else "loaders"
    definition = yaml.safe_load((REPO_ROOT / "plugins" / kind / f"{name}.yml").read_text())
    assert f'pip install "{definition["pip_url"]}"' in text
    [add] = re.findall(r"^meltano add .*$", text, re.M)
    assert add in ROOT_README.splitlines()
    pyproject = (REPO_ROOT / name / "pyproject.toml").read_text()
    assert re.search(r'^readme = "README.md"$', pyproject, re.M), "the sdist and wheel carry the README"


@pytest.mark.parametrize("name", ["tap-stripe-billing", "target-kissmetrics"])
def test_every_exact_pin_is_justified_in_the_readme(name: str) -> None:
    """The package README's Dependencies section names exactly the requirements pinned with `==`."""
    pyproject = (REPO_ROOT / name / "pyproject.toml").read_text()
    block = pyproject.split("dependencies = [", 1)[1].split("]", 1)[0]
    pins = {pin for pin in re.findall(r'"([^"]+)"', block) if "==" in pin}
    section = (REPO_ROOT / name / "README.md").read_text().split("## Dependencies", 1)[1].split("\n## ", 1)[0]
    assert set(re.findall(r"`([\w-]+==[\w.]+)`", section)) == pins
