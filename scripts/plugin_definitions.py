"""Write the Meltano Hub-style plugin definitions (`plugins/extractors/…`, `plugins/loaders/…`).

Run after changing a setting or a capability: ``.venv/bin/python -m scripts.plugin_definitions``.
Settings and capabilities come from what each executable prints for ``--about --format=json`` (our
settings and singer-sdk's built-ins, in that order); the rest (label, description, keywords, ...) is
written here. ``tests/project/test_plugin_definitions.py`` checks the files against the executables.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from stand_ins.processes import REPO_ROOT

# The project has no public URL yet: this placeholder (`.invalid` never resolves, RFC 2606) stands for
# it in every pip_url and link. The README says to replace it.
PLACEHOLDER_REPOSITORY = "https://example.invalid/stripe-billing-kissmetrics"

META: dict[str, dict[str, Any]] = {
    "tap-stripe-billing": {
        "plugin_type": "extractors",
        "label": "Stripe Billing",
        "description": "Successful live Stripe subscription payments, upgrades, downgrades, cancelations"
        " and refunds, for KISSmetrics' SaaS revenue reports",
        "domain_url": "https://stripe.com",
        "keywords": ["api", "meltano_sdk", "stripe", "billing"],
    },
    "target-kissmetrics": {
        "plugin_type": "loaders",
        "label": "KISSmetrics",
        "description": "Records as KISSmetrics events, exactly once in KISSmetrics' view",
        "domain_url": "https://www.kissmetrics.io",
        "keywords": ["api", "meltano_sdk", "kissmetrics", "analytics"],
    },
}
# The variant names the maintainer on Meltano Hub; until the project is published, the project itself.
VARIANT = "stripe-billing-kissmetrics"
_WORDS = {"api": "API", "url": "URL", "id": "ID", "km": "KM"}


def about(name: str) -> dict[str, Any]:
    """``<executable> --about --format=json``, from the executable next to this Python."""
    exe = Path(sys.executable).parent / name
    out = subprocess.run(  # noqa: S603 - our own executable, fixed arguments
        [str(exe), "--about", "--format=json"], capture_output=True, text=True, check=True
    )
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def kind(prop: dict[str, Any]) -> str:
    """Meltano's setting kind for a JSON-schema property.

    Numbers are `string` where the plugin accepts numeric strings and `integer` otherwise: Meltano 4.4.1
    fails on `kind: decimal` values set in the environment ("Decimal is not JSON serializable").
    """
    types = prop.get("type", [])
    types = [types] if isinstance(types, str) else types
    if "enum" in prop:
        return "options"
    if prop.get("format") == "date-time":
        return "date_iso8601"
    for json_type, meltano_kind in (("boolean", "boolean"), ("integer", "integer"), ("object", "object")):
        if json_type in types:
            return meltano_kind
    if "array" in types:
        return "array"
    if "number" in types:
        return "string" if "string" in types else "integer"
    return "string"


def label(name: str, prop: dict[str, Any]) -> str:
    if prop.get("title"):
        return str(prop["title"])
    return " ".join(_WORDS.get(word, word.capitalize()) for word in name.split("_"))


def setting(name: str, prop: dict[str, Any]) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": name, "label": label(name, prop), "kind": kind(prop)}
    if prop.get("description"):
        entry["description"] = prop["description"]
    if prop.get("secret") or prop.get("writeOnly"):
        entry["sensitive"] = True
    if "enum" in prop:
        entry["options"] = [{"label": label(str(v).replace("-", "_"), {}), "value": v} for v in prop["enum"]]
    if prop.get("default") is not None:
        entry["value"] = prop["default"]
    return entry


def definition(name: str) -> dict[str, Any]:
    meta = dict(META[name])
    plugin_type = meta.pop("plugin_type")
    info = about(name)
    schema = info["settings"]
    return {
        "name": name,
        "variant": VARIANT,
        "namespace": name.replace("-", "_"),
        "label": meta.pop("label"),
        "description": meta.pop("description"),
        "executable": name,
        "pip_url": f"git+{PLACEHOLDER_REPOSITORY}.git#subdirectory={name}",
        "repo": PLACEHOLDER_REPOSITORY,
        "docs": f"{PLACEHOLDER_REPOSITORY}/blob/main/{name}/README.md",
        "maintenance_status": "beta",
        **meta,
        "capabilities": sorted(info["capabilities"]),
        "settings_group_validation": [sorted(schema.get("required", []))],
        "settings": [setting(key, prop) for key, prop in schema["properties"].items()],
        "_plugin_type": plugin_type,
    }


def path_for(name: str) -> Path:
    return REPO_ROOT / "plugins" / str(META[name]["plugin_type"]) / f"{name}.yml"


def render(name: str) -> str:
    data = definition(name)
    data.pop("_plugin_type")
    header = (
        f"# Meltano plugin definition (Meltano Hub format) for {name}.\n"
        "# Generated by `python -m scripts.plugin_definitions` from the plugin's `--about --format=json`.\n"
        f"# Add it to a Meltano project: meltano add {str(META[name]['plugin_type'])[:-1]} {name}"
        f" --from-ref {path_for(name).relative_to(REPO_ROOT)}\n"
        f"# {PLACEHOLDER_REPOSITORY} is a placeholder for this project's repository: see README.md.\n"
    )
    return header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


def main() -> None:
    for name in META:
        path = path_for(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render(name))


if __name__ == "__main__":
    main()
