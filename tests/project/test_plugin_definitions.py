"""The Meltano Hub-style definitions (plugins/…/*.yml) say what the executables say about themselves."""

from __future__ import annotations

import functools
import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from scripts.plugin_definitions import PLACEHOLDER_REPOSITORY, path_for, render
from stand_ins.processes import REPO_ROOT

NAMES = ("tap-stripe-billing", "target-kissmetrics")
PROJECT: dict[str, Any] = yaml.safe_load((REPO_ROOT / "meltano.yml").read_text())
# Top-level keys Meltano Hub's plugin-definition schemas allow (schemas/plugin_definitions/*.json).
HUB_KEYS = {
    "name", "variant", "namespace", "label", "description", "executable", "pip_url", "repo", "docs",
    "logo_url", "hidden", "settings", "settings_group_validation", "commands", "capabilities",
    "maintenance_status", "domain_url", "keywords", "requires", "definition", "next_steps",
    "settings_preamble", "usage", "prereq", "quality",
}  # fmt: skip
HUB_EXTRACTOR_KEYS = {"metadata", "schema", "select"}
HUB_SETTING_KEYS = {
    "name", "aliases", "label", "value", "placeholder", "kind", "description", "tooltip", "documentation",
    "protected", "env", "value_processor", "value_post_processor", "oauth", "options", "docs", "sensitive",
    "hidden",
}  # fmt: skip
HUB_KINDS = {"date_iso8601", "file", "email", "integer", "options", "object", "array", "boolean", "string"}
# Which Meltano kinds may carry a value of each JSON-schema type (Meltano casts to the kind, then the
# plugin validates): no `decimal`, which Meltano 4.4.1 cannot pass on from the environment.
KINDS_FOR = {
    frozenset({"string"}): {"string"},
    frozenset({"boolean"}): {"boolean"},
    frozenset({"integer"}): {"integer"},
    frozenset({"number"}): {"integer"},
    frozenset({"number", "string"}): {"string"},
    frozenset({"object"}): {"object"},
    frozenset({"array"}): {"array"},
}


@functools.cache
def about(name: str) -> dict[str, Any]:
    exe = Path(sys.executable).parent / name
    done = subprocess.run([str(exe), "--about", "--format=json"], capture_output=True, text=True, check=True)
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def definition(name: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(path_for(name).read_text())
    return data


def _same(value: Any, default: Any) -> bool:
    if isinstance(default, bool) or not isinstance(default, int | float):
        return bool(value == default)
    return Decimal(str(value)) == Decimal(str(default))


@pytest.mark.parametrize("name", NAMES)
def test_definition_files_are_generated_from_the_current_plugins(name: str) -> None:
    """If this fails after a settings change: `.venv/bin/python -m scripts.plugin_definitions`."""
    assert path_for(name).read_text() == render(name)


@pytest.mark.parametrize("name", NAMES)
def test_about_capabilities_and_settings_match_the_definition(name: str) -> None:
    info, plugin = about(name), definition(name)
    assert sorted(plugin["capabilities"]) == sorted(info["capabilities"])
    schema = info["settings"]
    settings = {s["name"]: s for s in plugin["settings"]}
    assert list(settings) == list(schema["properties"]), "same settings, same order"
    for key, prop in schema["properties"].items():
        setting = settings[key]
        assert setting.get("description") == prop.get("description"), key
        assert bool(setting.get("sensitive")) == bool(prop.get("secret") or prop.get("writeOnly")), key
        if prop.get("default") is not None:
            assert _same(setting["value"], prop["default"]), key
        else:
            assert "value" not in setting, key
        types = prop.get("type", [])
        types = frozenset([types] if isinstance(types, str) else types) - {"null"}
        if "enum" in prop:
            assert setting["kind"] == "options", key
            assert [o["value"] for o in setting["options"]] == prop["enum"], key
        elif prop.get("format") == "date-time":
            assert setting["kind"] == "date_iso8601", key
        elif types in KINDS_FOR:
            assert setting["kind"] in KINDS_FOR[types], key
        else:
            assert setting["kind"] == "object", key  # faker_config and the like: unions of several types
    assert plugin["settings_group_validation"] == [sorted(schema["required"])]
    assert plugin["executable"] == info["name"] == name


@pytest.mark.parametrize("name", NAMES)
def test_definition_has_meltano_hub_shape(name: str) -> None:
    plugin = definition(name)
    extra = HUB_EXTRACTOR_KEYS if name.startswith("tap-") else set()
    assert set(plugin) <= HUB_KEYS | extra
    assert {"name", "namespace", "variant", "label"} <= set(plugin)  # Hub's required keys
    assert plugin["namespace"] == name.replace("-", "_")
    assert plugin["pip_url"] == f"git+{PLACEHOLDER_REPOSITORY}.git#subdirectory={name}"
    assert (REPO_ROOT / name / "pyproject.toml").exists(), "the subdirectory the pip_url names"
    for setting in plugin["settings"]:
        assert set(setting) <= HUB_SETTING_KEYS, setting["name"]
        assert setting["kind"] in HUB_KINDS, setting["name"]
        if setting.get("sensitive"):  # a key, or an object of keys (Meltano redacts any sensitive kind)
            assert setting["kind"] in ("string", "object"), setting["name"]
    names = {s["name"] for s in plugin["settings"]}
    assert {n for group in plugin["settings_group_validation"] for n in group} <= names


def test_readme_documents_the_placeholder() -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    assert PLACEHOLDER_REPOSITORY in readme
    assert PLACEHOLDER_REPOSITORY.split("//")[1].split("/")[0].endswith(".invalid")  # never resolves


@pytest.mark.parametrize("name", NAMES)
def test_this_projects_meltano_yml_agrees_with_the_definition(name: str) -> None:
    """meltano.yml declares our own settings (not singer-sdk's built-ins) exactly as the definition does."""
    [declared] = [p for kind in PROJECT["plugins"].values() for p in kind if p["name"] == name]
    plugin = definition(name)
    settings = {s["name"]: s for s in plugin["settings"]}
    assert [s["name"] for s in declared["settings"]] == list(settings)[: len(declared["settings"])]
    for entry in declared["settings"]:
        want = settings[entry["name"]]
        for field in ("kind", "sensitive", "options"):
            assert entry.get(field) == want.get(field), (entry["name"], field)
        if "value" in entry:  # a default is the plugin's; meltano.yml need not restate it, never differs
            assert "value" in want and _same(entry["value"], want["value"]), entry["name"]
    assert set(declared["capabilities"]) <= set(plugin["capabilities"])
    assert declared["namespace"] == plugin["namespace"] and declared["executable"] == plugin["executable"]
