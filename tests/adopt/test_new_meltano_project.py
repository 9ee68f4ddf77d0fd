"""From nothing: `meltano init` a new project, add both plugins from the committed Meltano Hub-style
definitions with the README's own commands, run the pipeline, then select one stream."""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from tap_stripe_billing.state import to_iso

from stand_ins.kissmetrics import KissmetricsStandIn
from stand_ins.processes import REPO_ROOT
from stand_ins.stripe import LIVE_KEY, AccountConfig, StripeStandIn, generate_account

from .harness import (
    LAG,
    clean_env,
    config_of,
    delivered_events,
    expected_events,
    init_project,
    local_definition,
    meltano,
)

KM_KEY = "km_adopt_SECRETCANARY_41c"
STATE_ID = "dev:tap-stripe-billing-to-target-kissmetrics"  # `meltano init` makes `dev` the default


def readme_commands() -> list[list[str]]:
    """The `meltano …` lines of the first shell block of the README's "In your own Meltano project"."""
    readme = (REPO_ROOT / "README.md").read_text()
    section = readme.split("### In your own Meltano project", 1)[1].split("\n### ", 1)[0]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    return [line.split()[1:] for line in block.splitlines() if line.startswith("meltano ")]


@pytest.fixture(scope="module")
def stripe() -> Iterator[StripeStandIn]:
    # Small, with dense lifecycle activity, so every event kind occurs in a quick run.
    cfg = AccountConfig(
        seed=41, invoices=500, history_days=50, horizon_days=2, change_share=0.3, refund_share=0.12
    )
    with StripeStandIn(generate_account(cfg), port=0) as server:
        yield server


@pytest.mark.slow
@pytest.mark.timeout(900)  # builds and installs packages: minutes on a loaded machine
def test_a_new_meltano_project_adds_both_plugins_and_delivers_exactly(
    stripe: StripeStandIn, tmp_path: Path
) -> None:
    account = stripe.account
    start = account.now - 40 * 86_400
    env = clean_env(
        TAP_STRIPE_BILLING_API_KEY=LIVE_KEY,
        TAP_STRIPE_BILLING_API_URL=stripe.url,
        TAP_STRIPE_BILLING_START_DATE=to_iso(start),
        TAP_STRIPE_BILLING_MAX_REQUESTS_PER_SECOND="500",
        TARGET_KISSMETRICS_API_KEY=KM_KEY,
    )
    project = init_project(tmp_path, env)
    assert "plugins" not in (project / "meltano.yml").read_text()

    # The README's commands, run as written, from definition files whose pip_url is this checkout.
    add_extractor, add_loader, set_start_date, run_line = readme_commands()
    assert [add_extractor[:4], add_loader[:4]] == [
        ["add", "--plugin-type", "extractor", "tap-stripe-billing"],
        ["add", "--plugin-type", "loader", "target-kissmetrics"],
    ]
    assert set_start_date[:4] == ["config", "set", "tap-stripe-billing", "start_date"]
    assert run_line == ["run", "tap-stripe-billing", "target-kissmetrics"]
    for name in ("tap-stripe-billing", "target-kissmetrics"):
        local_definition(name, project)
    for command in (add_extractor, add_loader, set_start_date):
        added = meltano(project, *command, env=env)
        assert added.returncode == 0, added.stdout[-2000:] + added.stderr[-3000:]
    project_file = (project / "meltano.yml").read_text()
    assert "utilities:" not in project_file, "no stray plugin (see the README's note on Meltano 4.4.1)"
    assert config_of(project, "tap-stripe-billing")["namespace"] == "tap_stripe_billing"
    for plugin_type, name in (("extractors", "tap-stripe-billing"), ("loaders", "target-kissmetrics")):
        assert (project / ".meltano" / plugin_type / name / "venv" / "bin" / name).exists(), name

    with KissmetricsStandIn(api_key=KM_KEY) as km:
        env["TARGET_KISSMETRICS_TRACKING_URL"] = km.url
        run = meltano(project, *run_line, env=env)  # start_date: the environment's wins over meltano.yml
        assert run.returncode == 0, run.stderr[-4000:]
        want = expected_events(account, start, account.now - LAG)
        kinds = Counter(name for name, _, _ in want)
        assert set(kinds) == {
            "Subscription Billed", "Subscription Upgraded", "Subscription Downgraded",
            "Subscription Canceled", "Refunded",
        }, kinds  # fmt: skip
        assert delivered_events(km) == want  # every event once, nothing else
        assert km.violations() == []
        states = meltano(project, "state", "list", env=env)
        assert STATE_ID in states.stdout + states.stderr
        for output in (run.stdout, run.stderr):
            assert LIVE_KEY not in output and KM_KEY not in output

        # Only `subscription_billed` selected: a full re-read (new journal, empty KISSmetrics) sends
        # only `Subscription Billed` events, exactly the billed ones.
        selected = meltano(project, "select", "tap-stripe-billing", "subscription_billed", "*", env=env)
        assert selected.returncode == 0, selected.stderr[-2000:]
        assert config_of(project, "tap-stripe-billing")["select"] == ["subscription_billed.*"]
        km.reset()
        shutil.rmtree(project / ".target-kissmetrics")  # the delivery journal (its default place)
        again = meltano(project, "run", "--full-refresh", "tap-stripe-billing", "target-kissmetrics", env=env)
        assert again.returncode == 0, again.stderr[-4000:]
        billed_only = [event for event in want if event[0] == "Subscription Billed"]
        assert delivered_events(km) == billed_only
        assert len(billed_only) > 50
