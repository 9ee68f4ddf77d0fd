"""Rewrite the READMEs' settings tables from the plugins' own config schemas.

Run after changing a setting: ``.venv/bin/python -m scripts.settings_tables``. The tables sit between
``<!-- settings:start -->`` and ``<!-- settings:end -->`` in README.md (both plugins) and in
tap-stripe-billing/README.md (the tap's, for its PyPI page); ``tests/project/test_readme.py`` checks them.
"""

from __future__ import annotations

from typing import Any

from tap_stripe_billing.tap import TapStripeBilling
from target_kissmetrics.target import TargetKissmetrics

from stand_ins.processes import REPO_ROOT

START, END = "<!-- settings:start -->", "<!-- settings:end -->"
# singer-sdk's own settings, which it appends to a plugin's class schema once a plugin is instantiated:
# `--about` lists those; the README documents ours.
SDK_BUILT_INS = frozenset(
    (
        "stream_maps", "stream_map_config", "faker_config", "flattening_enabled", "flattening_max_depth",
        "flattening_max_key_length", "flattening_separator", "batch_config", "add_record_metadata",
        "load_method", "batch_size_rows", "validate_records",
    )
)  # fmt: skip


def _default(prop: dict[str, Any]) -> str:
    value = prop.get("default")
    if value is None:
        return ""
    return f"`{str(value).lower() if isinstance(value, bool) else value}`"


def tables(plugins: tuple[type[Any], ...] = (TapStripeBilling, TargetKissmetrics)) -> str:
    parts = []
    for plugin in plugins:
        schema = plugin.config_jsonschema
        required = set(schema.get("required", []))
        rows = [
            f"#### `{plugin.name}`",
            "",
            "| setting | required | default | description |",
            "|---|:-:|---|---|",
        ]
        for name, prop in schema["properties"].items():
            if name in SDK_BUILT_INS:
                continue
            secret = " (secret)" if prop.get("secret") or prop.get("writeOnly") else ""
            needed = "yes" if name in required else ""
            rows.append(f"| `{name}`{secret} | {needed} | {_default(prop)} | {prop.get('description', '')} |")
        parts.append("\n".join(rows))
    return "\n\n".join(parts)


# Each README with a settings table, and the plugins it documents.
READMES: dict[str, tuple[type[Any], ...]] = {
    "README.md": (TapStripeBilling, TargetKissmetrics),
    "tap-stripe-billing/README.md": (TapStripeBilling,),
}


def main() -> None:
    for name, plugins in READMES.items():
        readme = REPO_ROOT / name
        text = readme.read_text()
        head, rest = text.split(START, 1)
        _, tail = rest.split(END, 1)
        readme.write_text(f"{head}{START}\n{tables(plugins)}\n{END}{tail}")


if __name__ == "__main__":
    main()
