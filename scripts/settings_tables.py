"""Rewrite the README's settings tables from the plugins' own config schemas.

Run after changing a setting: ``.venv/bin/python -m scripts.settings_tables``. The tables sit between
``<!-- settings:start -->`` and ``<!-- settings:end -->`` in README.md and in each package's README;
``tests/project/test_readme.py`` and ``tests/project/test_package_readmes.py`` check them.
"""

from __future__ import annotations

from pathlib import Path
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


Plugin = type[TapStripeBilling] | type[TargetKissmetrics]


def table(plugin: Plugin) -> str:
    """One plugin's settings as a Markdown table (singer-sdk's built-ins left out)."""
    schema = plugin.config_jsonschema
    required = set(schema.get("required", []))
    rows = ["| setting | required | default | description |", "|---|:-:|---|---|"]
    for name, prop in schema["properties"].items():
        if name in SDK_BUILT_INS:
            continue
        secret = " (secret)" if prop.get("secret") or prop.get("writeOnly") else ""
        needed = "yes" if name in required else ""
        rows.append(f"| `{name}`{secret} | {needed} | {_default(prop)} | {prop.get('description', '')} |")
    return "\n".join(rows)


def tables() -> str:
    return "\n\n".join(
        f"#### `{plugin.name}`\n\n{table(plugin)}" for plugin in (TapStripeBilling, TargetKissmetrics)
    )


# Each package's README (its PyPI page) carries its own table between the same markers.
PACKAGE_READMES: dict[Path, Plugin] = {
    REPO_ROOT / "tap-stripe-billing" / "README.md": TapStripeBilling,
    REPO_ROOT / "target-kissmetrics" / "README.md": TargetKissmetrics,
}


def _rewrite(readme: Path, body: str) -> None:
    text = readme.read_text()
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    readme.write_text(f"{head}{START}\n{body}\n{END}{tail}")


def main() -> None:
    _rewrite(REPO_ROOT / "README.md", tables())
    for readme, plugin in PACKAGE_READMES.items():
        _rewrite(readme, table(plugin))


if __name__ == "__main__":
    main()
