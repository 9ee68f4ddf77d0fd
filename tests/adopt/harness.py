"""A brand-new Meltano project in a temp folder, and the oracle of what KISSmetrics should receive."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml
from tap_stripe_billing.lifecycle_streams import EVENT_RETENTION, RETENTION_MARGIN
from tap_stripe_billing.state import parse_timestamp

from stand_ins.kissmetrics import KissmetricsStandIn
from stand_ins.processes import REPO_ROOT
from stand_ins.stripe import (
    Account,
    expected_billed,
    expected_cancellations,
    expected_changes,
    expected_refunds,
)

VENV_BIN = Path(sys.executable).parent
MELTANO = str(VENV_BIN / "meltano")
DEFINITIONS = {
    "tap-stripe-billing": REPO_ROOT / "plugins" / "extractors" / "tap-stripe-billing.yml",
    "target-kissmetrics": REPO_ROOT / "plugins" / "loaders" / "target-kissmetrics.yml",
}
LAG = 300  # the tap's default lag_minutes, in seconds
Event = tuple[str, str, int]  # (event name, Stripe id, _t)


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without any Meltano or plugin setting, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MELTANO_", "TAP_STRIPE", "TARGET_KISS"))}
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"  # Meltano finds uv here
    env["MELTANO_SEND_ANONYMOUS_USAGE_STATS"] = "false"
    env.update(extra)
    return env


def meltano(
    project: Path, *args: str, env: dict[str, str], stdin: str | None = None, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [MELTANO, *args],
        cwd=project,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def init_project(parent: Path, env: dict[str, str]) -> Path:
    """`meltano init` a new project: offline, nothing from Meltano Hub."""
    done = meltano(parent, "init", "--no-usage-stats", "project", env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    return parent / "project"


def local_definition(name: str, folder: Path) -> Path:
    """The committed definition with `pip_url` pointed at this checkout instead of the placeholder."""
    data = yaml.safe_load(DEFINITIONS[name].read_text())
    data["pip_url"] = str(REPO_ROOT / name)
    path = folder / DEFINITIONS[name].relative_to(REPO_ROOT)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def unix(iso: str) -> int:
    value = parse_timestamp(iso)
    assert value is not None
    return value


def expected_events(
    account: Account, start: int, upper: int, retained_from: int | None = None
) -> list[Event]:
    """Every event KISSmetrics should get for a first run at the account's clock (emailed records only)."""
    retained = account.now - EVENT_RETENTION + RETENTION_MARGIN if retained_from is None else retained_from
    events: list[Event] = []
    for r in expected_billed(account, upper, start).values():
        if r["customer_email"]:
            events.append(("Subscription Billed", r["invoice_id"], unix(r["paid_at"])))
    for c in expected_changes(account, upper, start, retained_from=retained).values():
        if c["customer_email"]:
            name = "Subscription Upgraded" if c["direction"] == "upgraded" else "Subscription Downgraded"
            events.append((name, c["subscription_id"], unix(c["changed_at"])))
    for c in expected_cancellations(account, upper, start).values():
        if c["customer_email"]:
            events.append(("Subscription Canceled", c["subscription_id"], unix(c["canceled_at"])))
    for r in expected_refunds(account, upper, start).values():
        if r["customer_email"]:
            events.append(("Refunded", r["refund_id"], unix(r["refunded_at"])))
    return sorted(events)


def delivered_events(km: KissmetricsStandIn) -> list[Event]:
    """Every event request the KISSmetrics stand-in received (raw: a double send shows twice)."""
    events: list[Event] = []
    for request in km.requests:
        name = request.first("_n") or ""
        if name == "Subscription Billed":
            ident = request.first("Stripe Invoice ID")
        elif name == "Refunded":
            ident = request.first("Stripe Refund ID")
        else:
            ident = request.first("Stripe Subscription ID")
        events.append((name, ident or "", int(request.first("_t") or 0)))
    return sorted(events)


def config_of(project: Path, plugin: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((project / "meltano.yml").read_text())
    for plugins in data.get("plugins", {}).values():
        for entry in plugins:
            if entry["name"] == plugin:
                return dict(entry)
    raise KeyError(plugin)
