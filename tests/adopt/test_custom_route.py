"""The README's `meltano add --custom` answers give the plugins Meltano can run: same namespace,
executable, capabilities and setting kinds as the committed definitions."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from stand_ins.processes import REPO_ROOT

from .harness import DEFINITIONS, clean_env, config_of, init_project, meltano

PLUGIN_TYPE = {"tap-stripe-billing": "extractor", "target-kissmetrics": "loader"}


def own_settings(name: str) -> list[str]:
    project = yaml.safe_load((REPO_ROOT / "meltano.yml").read_text())
    [plugin] = [p for kind in project["plugins"].values() for p in kind if p["name"] == name]
    return [s["name"] for s in plugin["settings"]]


def readme_answers() -> dict[str, list[tuple[str, str]]]:
    """plugin name -> the `(prompt) answer` lines of its README block, in order."""
    section = (REPO_ROOT / "README.md").read_text().split("## Using it", 1)[1].split("\n## ", 1)[0]
    blocks: dict[str, list[tuple[str, str]]] = {}
    for block in re.findall(r"```text\n(.*?)```", section, re.S):
        answers = re.findall(r"^\((\w+)\) (.*)$", block, re.M)
        blocks[dict(answers)["executable"]] = answers
    return blocks


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One new project for both plugins (each `meltano` command costs seconds)."""
    return init_project(tmp_path_factory.mktemp("custom"), clean_env())


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(PLUGIN_TYPE))
def test_the_readme_custom_answers_add_a_working_plugin(name: str, project: Path) -> None:
    answers = readme_answers()[name]
    prompts = [prompt for prompt, _ in answers]
    expected_prompts = ["namespace", "pip_url", "executable", "capabilities", "settings"]
    if name == "target-kissmetrics":
        expected_prompts.remove("capabilities")  # Meltano asks only extractors
    assert prompts == expected_prompts
    env = clean_env()
    stdin = "".join(f"{answer}\n" for _, answer in answers)
    added = meltano(
        project,
        "add",
        "--plugin-type",
        PLUGIN_TYPE[name],
        name,
        "--custom",
        "--no-install",
        env=env,
        stdin=stdin,
    )
    assert added.returncode == 0, added.stdout[-2000:] + added.stderr[-2000:]
    plugin = config_of(project, name)
    definition = yaml.safe_load(DEFINITIONS[name].read_text())
    assert plugin["namespace"] == definition["namespace"]
    assert plugin["executable"] == definition["executable"]
    assert plugin["pip_url"] == definition["pip_url"]
    assert set(plugin.get("capabilities", [])) <= set(definition["capabilities"])
    if name == "tap-stripe-billing":
        assert {"catalog", "discover", "state"} <= set(plugin["capabilities"])  # selection and state work
    defined = {s["name"]: s for s in definition["settings"]}
    for entry in plugin["settings"]:
        want = defined[entry["name"]]
        # `password` is Meltano's older spelling of a sensitive string; it keeps it and adds `sensitive`.
        kind = "string" if entry.get("kind") == "password" else entry.get("kind", "string")
        # The prompt cannot list options: an `options` setting is asked for as a plain string.
        assert kind == ("string" if want["kind"] == "options" else want["kind"]), entry
        # The prompt marks only strings secret (`password`); the README says to add `sensitive: true` to
        # an object of keys (account_api_keys) by hand.
        secret_object = want.get("sensitive") and want["kind"] == "object"
        assert bool(entry.get("sensitive")) == bool(want.get("sensitive")) or secret_object, entry
    # Every setting of our own is asked for (the ones this repository's meltano.yml declares), and
    # stream_maps.
    assert [s["name"] for s in plugin["settings"]] == [*own_settings(name), "stream_maps"]
    # Meltano can describe the result (settings parse, env var names exist).
    listed = meltano(project, "config", "list", "--all", name, env=env)
    assert listed.returncode == 0, listed.stderr[-2000:]
    assert f"{name.upper().replace('-', '_')}_API_KEY" in listed.stdout
